/**
 * A placement being edited with its KV groups in view: per-GPU sums (unit costs plus the costs of
 * the groups each GPU stores), counts, group counts and the KV heads stored, kept up to date so
 * that a move or a swap is priced and checked against every limit (unit counts, KV groups per GPU,
 * the KV-cache cap) in O(1). Sums use the combined costs (a mix's weighted sums).
 */
import type { LayerProblem } from '../types.ts';

export interface KvState {
  readonly problem: LayerProblem;
  /** [units] GPU of each unit, -1 while unplaced. */
  readonly unit2gpu: number[];
  /** [gpus] unit costs plus group costs of the stored groups (not divided by speed). */
  readonly sums: Float64Array;
  /** [gpus] units on each GPU. */
  readonly counts: Int32Array;
  /** [gpus x groups] units of group k on GPU g, at g * groups + k. */
  readonly groupCount: Int32Array;
  /** [gpus] distinct groups stored on each GPU. */
  readonly distinct: Int32Array;
  /** KV heads stored (sum of distinct). */
  stored: number;
  readonly groups: number;
  /** [groups] cost of each stored copy (0 when absent). */
  readonly groupCosts: readonly number[];
  /** Most KV heads stored (Infinity without a cap) and most groups on one GPU (Infinity without a limit). */
  readonly cap: number;
  readonly maxGroups: number;
}

export function createKvState(problem: LayerProblem): KvState {
  const gpus = problem.speeds.length;
  const unit2group = problem.unit2group ?? [];
  const groups = unit2group.reduce((m, k) => Math.max(m, k + 1), 0);
  return {
    problem,
    unit2gpu: new Array<number>(problem.costs.length).fill(-1),
    sums: new Float64Array(gpus),
    counts: new Int32Array(gpus),
    groupCount: new Int32Array(gpus * groups),
    distinct: new Int32Array(gpus),
    stored: 0,
    groups,
    groupCosts: problem.groupCosts ?? new Array<number>(groups).fill(0),
    cap: problem.maxStoredGroups ?? Infinity,
    maxGroups: problem.maxGroupsPerGpu ?? Infinity,
  };
}

export function placeUnit(state: KvState, u: number, g: number): void {
  const k = state.problem.unit2group![u];
  state.unit2gpu[u] = g;
  state.sums[g] += state.problem.costs[u];
  state.counts[g] += 1;
  const at = g * state.groups + k;
  if (state.groupCount[at]++ === 0) {
    state.sums[g] += state.groupCosts[k];
    state.distinct[g] += 1;
    state.stored += 1;
  }
}

export function unplaceUnit(state: KvState, u: number): void {
  const g = state.unit2gpu[u];
  const k = state.problem.unit2group![u];
  state.unit2gpu[u] = -1;
  state.sums[g] -= state.problem.costs[u];
  state.counts[g] -= 1;
  const at = g * state.groups + k;
  if (--state.groupCount[at] === 0) {
    state.sums[g] -= state.groupCosts[k];
    state.distinct[g] -= 1;
    state.stored -= 1;
  }
}

/** A state holding `unit2gpu` (every unit placed). */
export function stateOf(problem: LayerProblem, unit2gpu: readonly number[]): KvState {
  const state = createKvState(problem);
  unit2gpu.forEach((g, u) => placeUnit(state, u, g));
  return state;
}

/** New sums of GPUs a and b and the change in KV heads stored, for a change that passes the limits; null otherwise. */
export interface Priced {
  readonly a: number;
  readonly b: number;
}

/**
 * Moving unit u from its GPU a to GPU b: the two new sums, or null when it breaks a limit (a's
 * least units, b's most units, b's groups, the cap).
 */
export function priceMove(state: KvState, u: number, b: number): Priced | null {
  const { problem, groups } = state;
  const a = state.unit2gpu[u];
  const k = problem.unit2group![u];
  if (state.counts[a] <= problem.minUnitsPerGpu || state.counts[b] >= problem.maxUnitsPerGpu) return null;
  const leaves = state.groupCount[a * groups + k] === 1 ? 1 : 0;
  const enters = state.groupCount[b * groups + k] === 0 ? 1 : 0;
  if (state.distinct[b] + enters > state.maxGroups || state.stored - leaves + enters > state.cap) return null;
  const c = problem.costs[u];
  const gc = state.groupCosts[k];
  return { a: state.sums[a] - c - leaves * gc, b: state.sums[b] + c + enters * gc };
}

/** Trading units u (on a) and v (on b): the two new sums, or null when it breaks a KV limit. */
export function priceSwap(state: KvState, u: number, v: number): Priced | null {
  const { problem, groups } = state;
  const a = state.unit2gpu[u];
  const b = state.unit2gpu[v];
  const ku = problem.unit2group![u];
  const kv = problem.unit2group![v];
  const delta = problem.costs[v] - problem.costs[u];
  if (ku === kv) return { a: state.sums[a] + delta, b: state.sums[b] - delta };
  const leavesA = state.groupCount[a * groups + ku] === 1 ? 1 : 0;
  const entersA = state.groupCount[a * groups + kv] === 0 ? 1 : 0;
  const leavesB = state.groupCount[b * groups + kv] === 1 ? 1 : 0;
  const entersB = state.groupCount[b * groups + ku] === 0 ? 1 : 0;
  if (
    state.distinct[a] - leavesA + entersA > state.maxGroups ||
    state.distinct[b] - leavesB + entersB > state.maxGroups
  )
    return null;
  if (state.stored - leavesA + entersA - leavesB + entersB > state.cap) return null;
  const [gu, gv] = [state.groupCosts[ku], state.groupCosts[kv]];
  return {
    a: state.sums[a] + delta - leavesA * gu + entersA * gv,
    b: state.sums[b] - delta - leavesB * gv + entersB * gu,
  };
}
