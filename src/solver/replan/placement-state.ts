import { groupsMatter } from '../kv/groups.ts';
import { placeUnit, priceMove, priceSwap, stateOf, unplaceUnit } from '../kv/kv-state.ts';
import type { LayerProblem } from '../types.ts';

/**
 * A placement being edited: per-GPU sums, counts and KV groups kept up to date, so a move or a
 * swap is priced and checked against the constraints in O(1). Where KV copies cost something or
 * are capped, the sums include each GPU's copies and the cap is checked too (kv/kv-state.ts).
 */
export interface PlacementState {
  /** [units] GPU of each unit (edited in place). */
  readonly unit2gpu: number[];
  /** [gpus] sum of unit costs (and copies' costs) on each GPU, not divided by speed. */
  readonly sums: ArrayLike<number>;
  /** Puts unit u on GPU h (from wherever it is). */
  move(u: number, h: number): void;
  /** The sums of u's GPU and of GPU h once u moves there, or null when that breaks a constraint. */
  moveSums(u: number, h: number): { readonly from: number; readonly to: number } | null;
  /** The sums of u's GPU (a) and v's GPU (b) once they trade GPUs, or null when that breaks a constraint. */
  swapSums(u: number, v: number): { readonly a: number; readonly b: number } | null;
}

export function createPlacementState(problem: LayerProblem, start: readonly number[]): PlacementState {
  if (!groupsMatter(problem)) return unitPlacementState(problem, start);
  const state = stateOf(problem, start);
  return {
    unit2gpu: state.unit2gpu,
    sums: state.sums,
    move(u, h) {
      unplaceUnit(state, u);
      placeUnit(state, u, h);
    },
    moveSums(u, h) {
      const priced = priceMove(state, u, h);
      return priced ? { from: priced.a, to: priced.b } : null;
    },
    swapSums: (u, v) => priceSwap(state, u, v),
  };
}

/** The state of a layer whose units cost what they cost (a KV-group limit at most). */
function unitPlacementState(problem: LayerProblem, start: readonly number[]): PlacementState {
  const gpus = problem.speeds.length;
  const unit2gpu = [...start];
  const sums = new Array<number>(gpus).fill(0);
  const counts = new Array<number>(gpus).fill(0);
  const groupCounts = Array.from({ length: gpus }, () => new Map<number, number>());
  const unit2group = problem.maxGroupsPerGpu !== undefined ? problem.unit2group : undefined;
  const bump = (u: number, g: number, by: number) => {
    sums[g] += by * problem.costs[u];
    counts[g] += by;
    const group = unit2group?.[u];
    if (group !== undefined) groupCounts[g].set(group, (groupCounts[g].get(group) ?? 0) + by);
  };
  unit2gpu.forEach((g, u) => bump(u, g, 1));
  // Distinct groups on g once `leaving` has left and `arriving` has come.
  const groupsAfter = (g: number, leaving: number | null, arriving: number) => {
    const into = unit2group![arriving];
    const out = leaving === null ? null : unit2group![leaving];
    if (out === into) return groupCounts[g].size;
    let size = groupCounts[g].size;
    if (out !== null && groupCounts[g].get(out) === 1) size -= 1;
    if ((groupCounts[g].get(into) ?? 0) === 0) size += 1;
    return size;
  };
  const groupOk = (g: number, leaving: number | null, arriving: number) =>
    !unit2group || groupsAfter(g, leaving, arriving) <= problem.maxGroupsPerGpu!;
  return {
    unit2gpu,
    sums,
    move(u, h) {
      bump(u, unit2gpu[u], -1);
      bump(u, h, 1);
      unit2gpu[u] = h;
    },
    moveSums(u, h) {
      const g = unit2gpu[u];
      const ok =
        counts[g] - 1 >= problem.minUnitsPerGpu && counts[h] + 1 <= problem.maxUnitsPerGpu && groupOk(h, null, u);
      return ok ? { from: sums[g] - problem.costs[u], to: sums[h] + problem.costs[u] } : null;
    },
    swapSums(u, v) {
      const [a, b] = [unit2gpu[u], unit2gpu[v]];
      if (!groupOk(b, v, u) || !groupOk(a, u, v)) return null;
      const delta = problem.costs[u] - problem.costs[v];
      return { a: sums[a] - delta, b: sums[b] + delta };
    },
  };
}
