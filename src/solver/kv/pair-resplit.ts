/**
 * Local search for KV layers by re-splitting pairs of GPUs (the KV form of
 * engines/pair-rebalance.ts): pool the free units of a GPU at the makespan and of another GPU,
 * and split them again so that the larger of the two loads (copies priced) is as small as a
 * bounded search finds, within both GPUs' unit counts, the per-GPU group limit and the KV-cache
 * cap; accept when that larger load falls below the makespan. No step raises the makespan.
 */
import { REL_EPS } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { type KvState, placeUnit, stateOf, unplaceUnit } from './kv-state.ts';

/** Search nodes one pair's re-split may use. */
const NODES_PER_PAIR = 20_000;

/**
 * @param start [units] a placement meeting every constraint
 * @returns [units] a placement no worse than the start
 */
export function resplitKvPairs(
  problem: LayerProblem,
  start: readonly number[],
  limits: { readonly deadline: number; readonly now: () => number; readonly goal: number },
): number[] {
  const state = stateOf(problem, start);
  const gpus = problem.speeds.length;
  const load = (g: number) => state.sums[g] / problem.speeds[g];
  for (let step = 0; step < 20 * gpus * problem.costs.length && limits.now() < limits.deadline; step++) {
    const makespan = Math.max(...Array.from({ length: gpus }, (_, g) => load(g)));
    if (makespan <= limits.goal) break;
    const critical = Array.from({ length: gpus }, (_, g) => g).filter((g) => load(g) >= makespan * (1 - REL_EPS));
    const others = Array.from({ length: gpus }, (_, g) => g)
      .filter((g) => !critical.includes(g))
      .sort((a, b) => load(a) - load(b) || a - b);
    const improved = critical.some((a) =>
      others.some((b) => {
        const split = bestSplit(state, a, b, makespan * (1 - 1e-12));
        if (!split) return false;
        for (const u of [...split.toA, ...split.toB]) unplaceUnit(state, u);
        for (const u of split.toA) placeUnit(state, u, a);
        for (const u of split.toB) placeUnit(state, u, b);
        return true;
      }),
    );
    if (!improved) break;
  }
  return [...state.unit2gpu];
}

/** The best split of GPUs a and b's free units found, if its larger load is below `below`. */
function bestSplit(state: KvState, a: number, b: number, below: number) {
  const { problem, groups } = state;
  const unit2group = problem.unit2group!;
  const isPinned = (u: number) => (problem.unit2pin?.[u] ?? -1) >= 0;
  const pool = state.unit2gpu.flatMap((g, u) => ((g === a || g === b) && !isPinned(u) ? [u] : []));
  // Units of one group together, heaviest first: copies are priced as soon as a group appears.
  pool.sort((x, y) => unit2group[x] - unit2group[y] || problem.costs[y] - problem.costs[x] || x - y);
  const side = [pinnedSide(state, a), pinnedSide(state, b)];
  const speed = [problem.speeds[a], problem.speeds[b]];
  const storedElsewhere = state.stored - state.distinct[a] - state.distinct[b];
  const chosen = new Int8Array(pool.length);
  let best: Int8Array | null = null;
  let bestWorst = below;
  let nodes = 0;
  const visit = (j: number): void => {
    if (++nodes > NODES_PER_PAIR) return;
    if (Math.max(side[0].sum / speed[0], side[1].sum / speed[1]) >= bestWorst) return;
    const left = pool.length - j;
    for (const s of side) if (s.count > problem.maxUnitsPerGpu || s.count + left < problem.minUnitsPerGpu) return;
    if (side[0].distinct > state.maxGroups || side[1].distinct > state.maxGroups) return;
    if (j === pool.length) {
      if (storedElsewhere + side[0].distinct + side[1].distinct > state.cap) return;
      bestWorst = Math.max(side[0].sum / speed[0], side[1].sum / speed[1]);
      best = chosen.slice();
      return;
    }
    const u = pool[j];
    const k = unit2group[u];
    for (const s of [0, 1]) {
      const into = side[s];
      const opens = into.groupCount[k] === 0;
      into.groupCount[k] += 1;
      into.count += 1;
      into.sum += problem.costs[u] + (opens ? state.groupCosts[k] : 0);
      if (opens) into.distinct += 1;
      chosen[j] = s;
      visit(j + 1);
      into.groupCount[k] -= 1;
      into.count -= 1;
      into.sum -= problem.costs[u] + (opens ? state.groupCosts[k] : 0);
      if (opens) into.distinct -= 1;
    }
  };
  visit(0);
  if (!best) return null;
  const picked: Int8Array = best;
  return { toA: pool.filter((_, j) => picked[j] === 0), toB: pool.filter((_, j) => picked[j] === 1) };

  function pinnedSide(s: KvState, g: number) {
    const groupCount = new Int32Array(groups);
    let sum = 0;
    let count = 0;
    let distinct = 0;
    s.unit2gpu.forEach((h, u) => {
      if (h !== g || !isPinned(u)) return;
      const k = unit2group[u];
      if (groupCount[k]++ === 0) {
        sum += s.groupCosts[k];
        distinct += 1;
      }
      sum += problem.costs[u];
      count += 1;
    });
    return { groupCount, sum, count, distinct };
  }
}
