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

/** Is there a placement with every GPU load <= target? (see Decision) */
function decide(
  problem: LayerProblem,
  target: number,
  deadline: number,
  now: () => number,
  failedAt: Map<string, number>,
): Decision {
  const gpus = problem.speeds.length;
  const speed = problem.speeds[0];
  const cap = target * speed;
  const order = problem.costs.map((_, u) => u).sort((a, b) => problem.costs[b] - problem.costs[a] || a - b);
  const cost = order.map((u) => problem.costs[u]);
  const n = cost.length;
  const total = sum(cost);
  const slack = roundingSlack(2 * n + 3 * gpus + 8, total + gpus * Math.abs(cap));
  const { minUnitsPerGpu: lo, maxUnitsPerGpu: hi } = problem;
  const used = new Uint8Array(n);
  const bin = new Int32Array(n).fill(-1);
  let nodes = 0;
  let timedOut = false;

  /** Fills GPU g (gpus - g GPUs left, remUnits units and remWork work left). */
  const fill = (g: number, remUnits: number, remWork: number): boolean => {
    const left = gpus - g;
    // Identical GPUs: the ones left empty may as well be the last.
    if (remUnits === 0) return lo === 0;
    if (left === 1) {
      if (remUnits < lo || remUnits > hi || remWork > cap + slack) return false;
      for (let i = 0; i < n; i++) if (!used[i]) bin[i] = g;
      return true;
    }
    const key = `${g}:${String.fromCharCode(...used)}`;
    if ((failedAt.get(key) ?? -Infinity) >= target) return false;
    // This GPU's load must leave at most (left - 1) * cap for the others, and its size must leave
    // a count every other GPU can meet.
    const minLoad = remWork - (left - 1) * cap;
    const minCount = Math.max(lo, remUnits - (left - 1) * hi, 1);
    const maxCount = Math.min(hi, remUnits - (left - 1) * lo);
    let first = 0;
    while (used[first]) first++;
    // Free units after `first`, heaviest first, and suffix sums for the reachable-load cut.
    const free: number[] = [];
    for (let i = first + 1; i < n; i++) if (!used[i]) free.push(i);
    const m = free.length;

    const choose = (from: number, count: number, load: number): boolean => {
      if (++nodes % CLOCK_EVERY === 0 && now() > deadline) timedOut = true;
      if (timedOut) return false;
      if (count >= minCount && load >= minLoad - slack) {
        if (fill(g + 1, remUnits - count, remWork - load)) return true;
        if (timedOut) return false;
      }
      if (count === maxCount) return false;
      // Even the heaviest units still allowed cannot reach minLoad: no subset below does.
      let reach = load;
      for (let j = from, k = count; j < m && k < maxCount; j++, k++) reach += cost[free[j]];
      if (reach < minLoad - slack) return false;
      let skipped = -1;
      for (let j = from; j < m; j++) {
        const c = cost[free[j]];
        if (c === skipped) continue;
        if (load + c > cap + slack) continue;
        used[free[j]] = 1;
        bin[free[j]] = g;
        const ok = choose(j + 1, count + 1, load + c);
        used[free[j]] = 0;
        if (ok) return true;
        if (timedOut) return false;
        skipped = c;
      }
      return false;
    };

    used[first] = 1;
    bin[first] = g;
    const ok = cost[first] <= cap + slack && choose(0, 1, cost[first]);
    used[first] = 0;
    if (!ok && !timedOut) failedAt.set(key, Math.max(target, failedAt.get(key) ?? -Infinity));
    return ok;
  };

  const ok = fill(0, n, total);
  if (timedOut) return 'timeout';
  if (!ok) return null;
  const unit2gpu = new Array<number>(n);
  order.forEach((u, i) => {
    unit2gpu[u] = bin[i];
  });
  return unit2gpu;
}
