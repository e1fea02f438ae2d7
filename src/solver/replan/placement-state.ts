import type { LayerProblem } from '../types.ts';

/**
 * A placement being edited: per-GPU sums, counts and KV groups kept up to date, so a move or a
 * swap is checked against the loads and constraints in O(1).
 */
export interface PlacementState {
  /** [units] GPU of each unit (edited in place). */
  readonly unit2gpu: number[];
  /** [gpus] sum of unit costs (not divided by speed). */
  readonly sums: number[];
  readonly counts: number[];
  /** Puts unit u on GPU h (from wherever it is). */
  move(u: number, h: number): void;
  /** Whether GPU g's load stays within `limit` after its cost sum changes by delta. */
  fits(g: number, delta: number, limit: number): boolean;
  /** Whether unit u may go to GPU h alone: room in the counts, and in the KV-group limit. */
  canMove(u: number, h: number): boolean;
  /** Whether units u and v may trade GPUs under the KV-group limit (counts do not change). */
  canSwap(u: number, v: number): boolean;
}

export function createPlacementState(problem: LayerProblem, start: readonly number[]): PlacementState {
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
    counts,
    move(u, h) {
      bump(u, unit2gpu[u], -1);
      bump(u, h, 1);
      unit2gpu[u] = h;
    },
    fits: (g, delta, limit) => (sums[g] + delta) / problem.speeds[g] <= limit,
    canMove: (u, h) =>
      counts[unit2gpu[u]] - 1 >= problem.minUnitsPerGpu &&
      counts[h] + 1 <= problem.maxUnitsPerGpu &&
      groupOk(h, null, u),
    canSwap: (u, v) => groupOk(unit2gpu[v], v, u) && groupOk(unit2gpu[u], u, v),
  };
}
