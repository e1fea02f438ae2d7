import { HplbError } from '../../errors.ts';
import { REL_EPS, constraintViolation, heuristicEngine } from '../layer-result.ts';
import { groupsMatter } from '../kv/groups.ts';
import { improveKvAssignment, kvGreedyAssignment, minimumsReachable } from '../kv/greedy.ts';
import type { LayerEngine, LayerProblem } from '../types.ts';
import { contiguousPlacement } from './contiguous.ts';

/** Mutable placement state shared by construction and local search. */
interface State {
  readonly problem: LayerProblem;
  readonly unit2gpu: number[];
  /** [gpus] sum of unit costs on each GPU (not divided by speed). */
  readonly sums: number[];
  readonly counts: number[];
  /** [gpus] KV group -> heads of that group on the GPU (only with a group limit). */
  readonly groupCounts: Map<number, number>[];
}

/**
 * Greedy placement: largest unit first onto the GPU that would finish it earliest among those
 * with room (DeepSeek EPLB's balanced_packing rule, generalised to speeds, limits, KV-group limits
 * and pins), then single moves and pairwise swaps while they lower the makespan or the number of
 * GPUs at the makespan.
 * @returns [units] GPU index of each unit
 */
export function greedyAssignment(problem: LayerProblem): number[] {
  if (groupsMatter(problem)) return feasibleOrThrow(problem, kvGreedyAssignment(problem));
  const state = constructed(problem);
  improve(state);
  return state.unit2gpu;
}

/**
 * Greedy's construction alone, without the local search (whose pairwise swaps grow with units
 * squared): O(units x GPUs), for an answer that must come at once on a busy thread.
 * @returns [units] GPU index of each unit
 */
export function constructionAssignment(problem: LayerProblem): number[] {
  if (groupsMatter(problem)) return feasibleOrThrow(problem, kvGreedyAssignment(problem, false));
  return constructed(problem).unit2gpu;
}

function constructed(problem: LayerProblem): State {
  const state = construct(problem) ?? constructFromContiguous(problem);
  return feasibleOrThrow(problem, state);
}

function feasibleOrThrow<T>(problem: LayerProblem, found: T | null): T {
  if (found === null) {
    throw new HplbError(
      'INFEASIBLE_CONSTRAINTS',
      `greedy found no placement of layer ${problem.layer} that meets the unit counts, KV-group limits and KV-cache cap`,
      { rule: 'feasible' },
    );
  }
  return found;
}

export const greedyEngine: LayerEngine = heuristicEngine('greedy', greedyAssignment);

/**
 * Greedy's local search from another feasible start (e.g. a differencing placement).
 * @param start [units] GPU index of each unit, meeting every constraint
 * @returns [units] a placement no worse than the start
 */
export function improveAssignment(problem: LayerProblem, start: readonly number[]): number[] {
  if (groupsMatter(problem)) return improveKvAssignment(problem, start);
  const state = emptyState(problem);
  start.forEach((g, u) => place(state, u, g));
  improve(state);
  return state.unit2gpu;
}

/** greedyAssignment, or null when tight KV-group limits trap its order (a typed infeasibility). */
export function tryGreedyAssignment(problem: LayerProblem): number[] | null {
  try {
    return greedyAssignment(problem);
  } catch (error) {
    if (error instanceof HplbError) return null;
    throw error;
  }
}

function emptyState(problem: LayerProblem): State {
  const gpus = problem.speeds.length;
  return {
    problem,
    unit2gpu: new Array<number>(problem.costs.length).fill(-1),
    sums: new Array<number>(gpus).fill(0),
    counts: new Array<number>(gpus).fill(0),
    groupCounts: Array.from({ length: gpus }, () => new Map<number, number>()),
  };
}

function place(state: State, u: number, g: number): void {
  state.unit2gpu[u] = g;
  state.sums[g] += state.problem.costs[u];
  state.counts[g] += 1;
  const group = state.problem.unit2group?.[u];
  if (group !== undefined) state.groupCounts[g].set(group, (state.groupCounts[g].get(group) ?? 0) + 1);
}

function unplace(state: State, u: number): void {
  const g = state.unit2gpu[u];
  state.unit2gpu[u] = -1;
  state.sums[g] -= state.problem.costs[u];
  state.counts[g] -= 1;
  const group = state.problem.unit2group?.[u];
  if (group !== undefined) {
    const left = (state.groupCounts[g].get(group) ?? 0) - 1;
    if (left === 0) state.groupCounts[g].delete(group);
    else state.groupCounts[g].set(group, left);
  }
}

/** Would GPU g accept unit u's KV group (already there, or a free group slot)? */
function groupFits(state: State, u: number, g: number, leaving = -1): boolean {
  const { unit2group, maxGroupsPerGpu } = state.problem;
  if (!unit2group || maxGroupsPerGpu === undefined) return true;
  const group = unit2group[u];
  const present = state.groupCounts[g];
  if (present.has(group)) return true;
  let size = present.size;
  // A unit leaving g in a swap frees its group's slot when it was the group's last head there.
  if (leaving >= 0 && present.get(unit2group[leaving]) === 1) size -= 1;
  return size < maxGroupsPerGpu;
}

function construct(problem: LayerProblem): State | null {
  const state = emptyState(problem);
  const { costs, speeds } = problem;
  const free: number[] = [];
  costs.forEach((_, u) => {
    const pin = problem.unit2pin?.[u] ?? -1;
    if (pin >= 0) place(state, u, pin);
    else free.push(u);
  });
  free.sort((a, b) => costs[b] - costs[a] || a - b);
  let remaining = free.length;
  for (const u of free) {
    let best = -1;
    let bestFinish = Infinity;
    for (let g = 0; g < speeds.length; g++) {
      if (state.counts[g] >= problem.maxUnitsPerGpu || !groupFits(state, u, g)) continue;
      // Keep enough units for GPUs still below their minimum.
      const finish = (state.sums[g] + costs[u]) / speeds[g];
      if (finish < bestFinish) {
        bestFinish = finish;
        best = g;
      }
    }
    if (best < 0 || !minimumsReachable(state.problem.minUnitsPerGpu, state.counts, best, remaining - 1)) return null;
    place(state, u, best);
    remaining -= 1;
  }
  return state;
}

/** When KV-group limits trap the greedy order, start from the contiguous placement if it is feasible. */
function constructFromContiguous(problem: LayerProblem): State | null {
  const unit2gpu = contiguousPlacement(problem);
  if (constraintViolation(problem, unit2gpu) !== null) return null;
  const state = emptyState(problem);
  unit2gpu.forEach((g, u) => place(state, u, g));
  return state;
}

/** Move unit u to GPU b, or (v >= 0) swap it with unit v on b. */
interface Change {
  readonly u: number;
  readonly v: number;
  readonly b: number;
}

/**
 * Local search: take a GPU at the makespan; move one of its units elsewhere, or swap it with a
 * cheaper unit elsewhere, choosing the change whose larger new load is smallest, as long as both
 * new loads end below the makespan. Each accepted change lowers the makespan or the number of
 * GPUs at it, so the loop ends (the iteration cap is only a guard against float drift).
 */
function improve(state: State): void {
  const maxIterations = 50 * state.problem.costs.length * state.problem.speeds.length;
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const change = bestChange(state);
    if (!change) return;
    const from = state.unit2gpu[change.u];
    unplace(state, change.u);
    if (change.v >= 0) {
      unplace(state, change.v);
      place(state, change.v, from);
    }
    place(state, change.u, change.b);
  }
}

function bestChange(state: State): Change | null {
  const { problem } = state;
  const { costs, speeds } = problem;
  const gpus = speeds.length;
  const isPinned = (u: number) => (problem.unit2pin?.[u] ?? -1) >= 0;
  const loads = state.sums.map((s, g) => s / speeds[g]);
  const threshold = Math.max(...loads) * (1 - REL_EPS);
  let bestLoad = Infinity;
  let best: Change | null = null;
  for (let a = 0; a < gpus; a++) {
    if (loads[a] < threshold) continue;
    for (let u = 0; u < costs.length; u++) {
      if (state.unit2gpu[u] !== a || isPinned(u)) continue;
      for (let b = 0; b < gpus; b++) {
        if (b === a) continue;
        if (
          state.counts[a] > problem.minUnitsPerGpu &&
          state.counts[b] < problem.maxUnitsPerGpu &&
          groupFits(state, u, b)
        ) {
          const worse = Math.max((state.sums[a] - costs[u]) / speeds[a], (state.sums[b] + costs[u]) / speeds[b]);
          if (worse < threshold && worse < bestLoad) {
            bestLoad = worse;
            best = { u, v: -1, b };
          }
        }
        for (let v = 0; v < costs.length; v++) {
          if (state.unit2gpu[v] !== b || isPinned(v) || costs[v] >= costs[u]) continue;
          if (!groupFits(state, u, b, v) || !groupFits(state, v, a, u)) continue;
          const worse = Math.max(
            (state.sums[a] - costs[u] + costs[v]) / speeds[a],
            (state.sums[b] - costs[v] + costs[u]) / speeds[b],
          );
          if (worse < threshold && worse < bestLoad) {
            bestLoad = worse;
            best = { u, v, b };
          }
        }
      }
    }
    // One critical GPU at a time: relieving it is an accepted step by itself.
    if (best) return best;
  }
  return null;
}
