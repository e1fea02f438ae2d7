import { HplbError } from '../../errors.ts';
import { aggregateLayer, disaggregate, type AggregatedLayer } from '../aggregate.ts';
import { REL_EPS, roundingSlack } from '../layer-result.ts';
import { SearchTimeout, type LayerEngine, type LayerProblem, type SolveOptions } from '../types.ts';
import { tryGreedyAssignment } from './greedy.ts';
import { lowerIncumbent, solveBySearch, type Decision, type SearchOutcome } from './target-search.ts';

/** Nodes between two looks at the clock. */
const CLOCK_EVERY = 2048;

/**
 * Exact search over per-GPU configurations (counts of each class of identical units on a GPU).
 * Real layers have few distinct costs, so a GPU has few configurations. The search decides
 * "does a placement with every load <= T exist?" by depth-first search over GPUs, pruned by
 * capacity, unit counts and the fluid bound of the GPUs left, with a memo of failed
 * (GPU, units left) states that also removes the symmetry between identical GPUs. The first
 * target is the static bound (often met exactly); after that each target sits just under the
 * incumbent, so every feasible answer lowers the incumbent and the first infeasible one proves it
 * optimal. Failed states are kept across targets, since targets only fall.
 * With a KV-group limit, classes are split by KV group and a configuration may touch at most the
 * limit's number of groups (counting those pinned units already bring).
 */
export function configSearch(problem: LayerProblem, options: SolveOptions): SearchOutcome {
  const now = options.now ?? performance.now.bind(performance);
  const deadline = now() + options.timeLimitMs;
  const layer = aggregateLayer(problem);
  let best = options.incumbent ? [...options.incumbent] : tryGreedyAssignment(problem);
  if (!best) {
    // No start: an unbounded target asks only "is there any placement at all?".
    const found = decide(problem, layer, Infinity, deadline, now, new Map());
    if (found === null)
      throw new HplbError(
        'INFEASIBLE_CONSTRAINTS',
        `no placement of layer ${problem.layer} meets the unit-count, KV-group and pin constraints (exhaustive search)`,
        { pointer: '/constraints', rule: 'feasible' },
      );
    if (found === 'timeout')
      throw new SearchTimeout(`no placement of layer ${problem.layer} found within ${options.timeLimitMs} ms`);
    best = found;
  }
  // Failed states survive from one target to the next: a state with no completion under a
  // target has none under any smaller target either.
  const failedAt = new Map<string, number>();
  return lowerIncumbent(
    problem,
    best,
    { stopGap: REL_EPS, next: (upper, lower, first) => (first ? lower : upper * (1 - REL_EPS / 2)) },
    (target) => decide(problem, layer, target, deadline, now, failedAt),
  );
}

export const configSearchEngine: LayerEngine = {
  name: 'search',
  solveLayer: (problem, options) => solveBySearch(problem, options, 'search', configSearch),
};

/** Is there a placement with every GPU load <= target? (see Decision) */
function decide(
  problem: LayerProblem,
  layer: AggregatedLayer,
  target: number,
  deadline: number,
  now: () => number,
  failedAt: Map<string, number>,
): Decision {
  const gpus = problem.speeds.length;
  const classes = layer.classes.length;
  const cost = layer.classes.map((c) => c.cost);
  const rem = layer.classes.map((c) => c.units.length);
  // Fast GPUs first: their configurations are the most constrained by the target.
  const order = Array.from({ length: gpus }, (_, g) => g).sort(
    (a, b) => problem.speeds[b] - problem.speeds[a] || layer.pinnedCost[a] - layer.pinnedCost[b] || a - b,
  );
  const cap = order.map((g) => target * problem.speeds[g] - layer.pinnedCost[g]);
  const totalWork = layer.classes.reduce((s, c) => s + c.cost * c.units.length, 0);
  const tol = roundingTolerance(problem, totalWork, cap);
  if (cap.some((c) => c < -tol)) return null;
  const lo = order.map((g) => Math.max(0, problem.minUnitsPerGpu - layer.pinnedCount[g]));
  const hi = order.map((g) => problem.maxUnitsPerGpu - layer.pinnedCount[g]);
  const capSuffix = suffix(cap, (a, b) => a + b, 0);
  const maxCapSuffix = suffix(cap, Math.max, -Infinity);
  const loSuffix = suffix(lo, (a, b) => a + b, 0);
  const hiSuffix = suffix(hi, (a, b) => a + b, 0);

  const counts: number[][] = Array.from({ length: gpus }, () => new Array<number>(classes).fill(0));
  // KV groups: classes of one group share a slot; groupLimit is Infinity without a limit.
  const groupLimit = problem.maxGroupsPerGpu ?? Infinity;
  const classGroup = layer.classes.map((c) => c.group);
  let nodes = 0;
  let timedOut = false;

  const level = (i: number, remUnits: number, remWork: number): boolean => {
    if (i === gpus) return remUnits === 0;
    if (remUnits < loSuffix[i] || remUnits > hiSuffix[i] || remWork > capSuffix[i] + tol) return false;
    let heaviest = -1;
    for (let k = 0; k < classes; k++)
      if (rem[k] > 0) {
        heaviest = k;
        break;
      }
    if (heaviest >= 0 && cost[heaviest] > maxCapSuffix[i] + tol) return false;
    const key = `${i}:${rem.join(',')}`;
    if ((failedAt.get(key) ?? -Infinity) >= target) return false;
    const row = counts[i];
    // Per GPU: heads of each KV group chosen so far, and how many groups that makes.
    const groupUse = new Map<number, number>();
    let groupsUsed = 0;
    for (const group of layer.pinnedGroups[order[i]]) {
      groupUse.set(group, 1);
      groupsUsed += 1;
    }
    const config = (k: number, count: number, load: number): boolean => {
      // Count every partial configuration: with many classes one GPU alone has a huge number.
      if (++nodes % CLOCK_EVERY === 0 && now() > deadline) timedOut = true;
      if (timedOut) return false;
      if (k === classes) {
        if (count < lo[i]) return false;
        return level(i + 1, remUnits - count, remWork - load);
      }
      // Units the later classes could still add to this GPU, at most.
      let nextCost = 0;
      for (let j = k + 1; j < classes; j++)
        if (rem[j] > 0) {
          nextCost = cost[j];
          break;
        }
      const group = classGroup[k];
      const opensGroup = group >= 0 && !groupUse.get(group);
      const groupRoom = !opensGroup || groupsUsed < groupLimit;
      const most = groupRoom
        ? Math.min(rem[k], hi[i] - count, cost[k] > 0 ? Math.floor((cap[i] - load + tol) / cost[k]) : rem[k])
        : 0;
      for (let n = most; n >= 0; n--) {
        const newLoad = load + n * cost[k];
        const addMax = Math.max(0, Math.min(cap[i] - newLoad, (hi[i] - count - n) * nextCost));
        // Taking fewer of class k only leaves more work for the GPUs after this one.
        if (remWork - newLoad - addMax > capSuffix[i + 1] + tol) break;
        row[k] = n;
        rem[k] -= n;
        if (n > 0 && group >= 0) {
          groupUse.set(group, (groupUse.get(group) ?? 0) + 1);
          if (opensGroup) groupsUsed += 1;
        }
        const ok = config(k + 1, count + n, newLoad);
        if (n > 0 && group >= 0) {
          groupUse.set(group, groupUse.get(group)! - 1);
          if (opensGroup) groupsUsed -= 1;
        }
        rem[k] += n;
        if (ok) return true;
        row[k] = 0;
      }
      return false;
    };
    const ok = config(0, 0, 0);
    if (!ok && !timedOut) failedAt.set(key, Math.max(target, failedAt.get(key) ?? -Infinity));
    return ok;
  };

  const totalUnits = rem.reduce((a, b) => a + b, 0);
  const ok = level(0, totalUnits, totalWork);
  if (timedOut) return 'timeout';
  if (!ok) return null;
  const byGpu: number[][] = Array.from({ length: gpus }, () => []);
  order.forEach((g, i) => {
    byGpu[g] = counts[i];
  });
  return disaggregate(problem, layer, byGpu);
}

/**
 * Rounding slack of `decide` (see roundingSlack): every quantity it compares (work left, a GPU's
 * load, the capacity left) sums at most units + 3 * gpus + classes terms, none larger than the
 * total work plus the total capacity. About 1e-13 of that for real sizes, far below the target
 * steps (REL_EPS / 2 of the makespan), so a placement it lets through still beats the incumbent.
 */
function roundingTolerance(problem: LayerProblem, totalWork: number, cap: readonly number[]): number {
  const magnitude = totalWork + cap.reduce((s, c) => s + Math.abs(c), 0) + problem.costs.reduce((s, c) => s + c, 0);
  return roundingSlack(2 * problem.costs.length + 3 * problem.speeds.length + 8, magnitude);
}

/** [n + 1] suffix folds: out[i] = xs[i] op xs[i + 1] op ... op init. */
function suffix(xs: readonly number[], op: (a: number, b: number) => number, init: number): number[] {
  const out = new Array<number>(xs.length + 1).fill(init);
  for (let i = xs.length - 1; i >= 0; i--) out[i] = op(xs[i], out[i + 1]);
  return out;
}
