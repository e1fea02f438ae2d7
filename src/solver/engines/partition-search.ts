import { layerLowerBound } from '../bounds.ts';
import { REL_EPS, buildLayerResult, makespanOf, relativeGap, roundingSlack, statusForGap } from '../layer-result.ts';
import { sum } from '../problem.ts';
import type { LayerEngine, LayerProblem, LayerResult, SolveOptions } from '../types.ts';
import { differencingAssignment } from './differencing.ts';
import { greedyAssignment } from './greedy.ts';
import { lowerIncumbent, solveBySearch, type Decision, type SearchOutcome } from './target-search.ts';

/** Nodes between two looks at the clock. */
const CLOCK_EVERY = 4096;

/** Where the partition search applies: identical GPUs, no pins, no KV groups, one phase. */
export function partitionSearchApplies(problem: LayerProblem): boolean {
  return (
    problem.speeds.length >= 2 &&
    problem.unit2pin === undefined &&
    problem.unit2group === undefined &&
    problem.phases === undefined &&
    problem.speeds.every((s) => s === problem.speeds[0])
  );
}

/**
 * Exact search for multi-way number partitioning with a cardinality constraint (identical GPUs;
 * costs may be all distinct). It decides "is there a placement with every load <= T?" by
 * sequential bin completion (Korf; Schreiber, Korf and Moffitt, JACM 2018): GPUs are filled one
 * at a time, each with the heaviest unit left (GPUs are interchangeable) plus a subset of the
 * others whose sum lies in [work left - (GPUs left - 1) * T, T] and whose size keeps every count
 * rule reachable; units of equal cost are not tried twice at one position, and failed sets of
 * units left are remembered across targets (a set with no completion under T has none under any
 * smaller T). Targets bisect the gap, then sit at the incumbent less the gap tolerance, so one
 * "none exists" proves the tolerance. Every cut allows the floating-point slack of roundingSlack.
 * @returns the best placement and a valid bound; timedOut when the gap is still open
 */
export function partitionSearch(problem: LayerProblem, options: SolveOptions): SearchOutcome {
  const now = options.now ?? performance.now.bind(performance);
  const deadline = now() + options.timeLimitMs;
  const start = options.incumbent
    ? [...options.incumbent]
    : (differencingAssignment(problem) ?? greedyAssignment(problem));
  const failedAt = new Map<string, number>();
  const step = Math.max(options.gapTolerance, REL_EPS);
  const next = (upper: number, lower: number): number | null => {
    const target = Math.max(upper * (1 - step), (lower + upper) / 2);
    // Only rounding leaves a target at or below a proven bound: nothing more to prove.
    return target > lower ? target : null;
  };
  return lowerIncumbent(problem, start, { stopGap: step, next }, (target) =>
    decide(problem, target, deadline, now, failedAt),
  );
}

export const partitionSearchEngine: LayerEngine = {
  name: 'partition',
  solveLayer(problem: LayerProblem, options: SolveOptions): LayerResult {
    if (!partitionSearchApplies(problem)) {
      const now = options.now ?? performance.now.bind(performance);
      const start = now();
      const unit2gpu = greedyAssignment(problem);
      const lowerBound = layerLowerBound(problem);
      const status = statusForGap(
        relativeGap(makespanOf(problem, unit2gpu), lowerBound),
        options.gapTolerance,
        'heuristic',
      );
      return buildLayerResult(problem, unit2gpu, { lowerBound, status, engine: 'greedy', solveMs: now() - start });
    }
    return solveBySearch(problem, options, 'partition', partitionSearch);
  },
};

/** What one decision reads and keeps: units heaviest first, the room, the counts, the memo. */
interface Bins {
  readonly gpus: number;
  /** Cost of the i-th heaviest unit. */
  readonly cost: readonly number[];
  readonly cap: number;
  readonly slack: number;
  readonly lo: number;
  readonly hi: number;
  readonly target: number;
  readonly used: Uint8Array;
  /** [i] GPU of the i-th heaviest unit. */
  readonly bin: Int32Array;
  readonly failedAt: Map<string, number>;
  readonly deadline: number;
  readonly now: () => number;
  nodes: number;
  timedOut: boolean;
}

/** Is there a placement with every GPU load <= target? (see Decision) */
function decide(
  problem: LayerProblem,
  target: number,
  deadline: number,
  now: () => number,
  failedAt: Map<string, number>,
): Decision {
  const gpus = problem.speeds.length;
  const cap = target * problem.speeds[0];
  const order = problem.costs.map((_, u) => u).sort((a, b) => problem.costs[b] - problem.costs[a] || a - b);
  const cost = order.map((u) => problem.costs[u]);
  const n = cost.length;
  const total = sum(cost);
  const bins: Bins = {
    gpus,
    cost,
    cap,
    slack: roundingSlack(2 * n + 3 * gpus + 8, total + gpus * Math.abs(cap)),
    lo: problem.minUnitsPerGpu,
    hi: problem.maxUnitsPerGpu,
    target,
    used: new Uint8Array(n),
    bin: new Int32Array(n).fill(-1),
    failedAt,
    deadline,
    now,
    nodes: 0,
    timedOut: false,
  };
  const ok = fill(bins, 0, n, total);
  if (bins.timedOut) return 'timeout';
  if (!ok) return null;
  const unit2gpu = new Array<number>(n);
  order.forEach((u, i) => {
    unit2gpu[u] = bins.bin[i];
  });
  return unit2gpu;
}

/** Fills GPU g (gpus - g GPUs left, remUnits units and remWork work left). */
function fill(bins: Bins, g: number, remUnits: number, remWork: number): boolean {
  const { used, cost, cap, slack, lo, hi } = bins;
  const n = cost.length;
  const left = bins.gpus - g;
  // Identical GPUs: the ones left empty may as well be the last.
  if (remUnits === 0) return lo === 0;
  if (left === 1) {
    if (remUnits < lo || remUnits > hi || remWork > cap + slack) return false;
    for (let i = 0; i < n; i++) if (!used[i]) bins.bin[i] = g;
    return true;
  }
  const key = `${g}:${String.fromCharCode(...used)}`;
  if ((bins.failedAt.get(key) ?? -Infinity) >= bins.target) return false;
  let first = 0;
  while (used[first]) first++;
  // Free units after `first`, heaviest first.
  const free: number[] = [];
  for (let i = first + 1; i < n; i++) if (!used[i]) free.push(i);
  // This GPU's load must leave at most (left - 1) * cap for the others, and its size must leave
  // a count every other GPU can meet.
  const gpu: Fill = {
    g,
    remUnits,
    remWork,
    free,
    minLoad: remWork - (left - 1) * cap,
    minCount: Math.max(lo, remUnits - (left - 1) * hi, 1),
    maxCount: Math.min(hi, remUnits - (left - 1) * lo),
  };
  used[first] = 1;
  bins.bin[first] = g;
  const ok = cost[first] <= cap + slack && choose(bins, gpu, 0, 1, cost[first]);
  used[first] = 0;
  if (!ok && !bins.timedOut) bins.failedAt.set(key, Math.max(bins.target, bins.failedAt.get(key) ?? -Infinity));
  return ok;
}

/** One GPU being filled: what is left, its free units and the load and counts it must reach. */
interface Fill {
  readonly g: number;
  readonly remUnits: number;
  readonly remWork: number;
  readonly free: readonly number[];
  readonly minLoad: number;
  readonly minCount: number;
  readonly maxCount: number;
}

/** Adds free units from position `from` on to the GPU (count units, load so far), then fills the next GPU. */
function choose(bins: Bins, gpu: Fill, from: number, count: number, load: number): boolean {
  const { cost, slack, used } = bins;
  const { free, minLoad, maxCount } = gpu;
  if (++bins.nodes % CLOCK_EVERY === 0 && bins.now() > bins.deadline) bins.timedOut = true;
  if (bins.timedOut) return false;
  if (count >= gpu.minCount && load >= minLoad - slack) {
    if (fill(bins, gpu.g + 1, gpu.remUnits - count, gpu.remWork - load)) return true;
    if (bins.timedOut) return false;
  }
  if (count === maxCount) return false;
  // Even the heaviest units still allowed cannot reach minLoad: no subset below does.
  let reach = load;
  for (let j = from, k = count; j < free.length && k < maxCount; j++, k++) reach += cost[free[j]];
  if (reach < minLoad - slack) return false;
  let skipped = -1;
  for (let j = from; j < free.length; j++) {
    const c = cost[free[j]];
    if (c === skipped) continue;
    if (load + c > bins.cap + slack) continue;
    used[free[j]] = 1;
    bins.bin[free[j]] = gpu.g;
    const ok = choose(bins, gpu, j + 1, count + 1, load + c);
    used[free[j]] = 0;
    if (ok) return true;
    if (bins.timedOut) return false;
    skipped = c;
  }
  return false;
}
