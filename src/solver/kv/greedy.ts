/**
 * Group-aware greedy for layers whose KV groups cost something or are capped (kv/groups.ts): the
 * warm start of the KV steps. It respects the cap, the per-GPU group limit, pins and the unit
 * counts, and prices every copy of a group it opens.
 */
import { contiguousPlacement } from '../engines/contiguous.ts';
import { REL_EPS, constraintViolation } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { groupMembers } from './groups.ts';
import { type KvState, createKvState, placeUnit, priceMove, priceSwap, stateOf, unplaceUnit } from './kv-state.ts';

/**
 * The better (by makespan on the combined costs, then KV heads stored) of two constructions, each
 * improved by moves and swaps: units largest first, and groups largest first with their units
 * together, each unit onto the GPU where it would finish earliest (its group's copy priced when
 * the GPU does not store it yet) among those the limits allow, keeping a cap slot for every group
 * not yet stored. Null when neither construction finds room (tight limits trap their order).
 * @returns [units] GPU index of each unit, or null
 */
export function kvGreedyAssignment(problem: LayerProblem, improve = true): number[] | null {
  let best: KvState | null = null;
  const starts = constructionOrders(problem).map((order) => construct(problem, order));
  // The contiguous placement as a third start: at a cap of 1.0 it is often the only close one.
  const contiguous = contiguousPlacement(problem);
  if (constraintViolation(problem, contiguous) === null) starts.push(stateOf(problem, contiguous));
  for (const state of starts) {
    if (!state) continue;
    if (improve) improveState(state);
    if (!best || better(state, best)) best = state;
  }
  return best ? [...best.unit2gpu] : null;
}

/**
 * Greedy's local search from a feasible start (moves and swaps that lower the makespan or the
 * number of GPUs at it, every limit kept).
 * @param start [units] GPU of each unit, meeting every constraint
 */
export function improveKvAssignment(problem: LayerProblem, start: readonly number[]): number[] {
  const state = stateOf(problem, start);
  improveState(state);
  return [...state.unit2gpu];
}

function makespanOfState(state: KvState): number {
  let worst = 0;
  state.sums.forEach((s, g) => {
    worst = Math.max(worst, s / state.problem.speeds[g]);
  });
  return worst;
}

function better(a: KvState, b: KvState): boolean {
  const [ma, mb] = [makespanOfState(a), makespanOfState(b)];
  return ma < mb * (1 - REL_EPS) || (ma <= mb * (1 + REL_EPS) && a.stored < b.stored);
}

/** [orders] units largest first; groups by total cost (copy included), largest first, their units largest first. */
function constructionOrders(problem: LayerProblem): number[][] {
  const { costs } = problem;
  const free = costs.map((_, u) => u).filter((u) => (problem.unit2pin?.[u] ?? -1) < 0);
  const byCost = [...free].sort((a, b) => costs[b] - costs[a] || a - b);
  const members = groupMembers(problem);
  const total = members.map((units, k) => units.reduce((s, u) => s + costs[u], problem.groupCosts?.[k] ?? 0));
  const unit2group = problem.unit2group!;
  const byGroup = [...free].sort(
    (a, b) =>
      total[unit2group[b]] - total[unit2group[a]] || unit2group[a] - unit2group[b] || costs[b] - costs[a] || a - b,
  );
  return [byCost, byGroup];
}

function construct(problem: LayerProblem, order: readonly number[]): KvState | null {
  const state = createKvState(problem);
  problem.unit2pin?.forEach((g, u) => {
    if (g >= 0) placeUnit(state, u, g);
  });
  const unit2group = problem.unit2group!;
  // Units of each group still to place, and groups stored nowhere yet that still need a copy.
  const left = new Int32Array(state.groups);
  for (const u of order) left[unit2group[u]] += 1;
  let unstored = 0;
  for (let k = 0; k < state.groups; k++) if (left[k] > 0 && !storedAnywhere(state, k)) unstored += 1;
  let remaining = order.length;
  for (const u of order) {
    const k = unit2group[u];
    const wasStored = storedAnywhere(state, k);
    const g = bestGpu(state, u, remaining - 1, unstored - (wasStored ? 0 : 1));
    if (g < 0) return null;
    placeUnit(state, u, g);
    left[k] -= 1;
    remaining -= 1;
    if (!wasStored) unstored -= 1;
  }
  return state;
}

/** The GPU where u finishes earliest among those that keep every limit reachable; -1 if none. */
function bestGpu(state: KvState, u: number, remainingAfter: number, unstoredAfter: number): number {
  const { problem, groups } = state;
  const k = problem.unit2group![u];
  let best = -1;
  let bestFinish = Infinity;
  let bestOpens = true;
  for (let g = 0; g < problem.speeds.length; g++) {
    if (state.counts[g] >= problem.maxUnitsPerGpu) continue;
    const opens = state.groupCount[g * groups + k] === 0;
    if (opens && (state.distinct[g] >= state.maxGroups || state.stored + 1 + unstoredAfter > state.cap)) continue;
    if (!minimumsReachable(state.problem.minUnitsPerGpu, state.counts, g, remainingAfter)) continue;
    const finish = (state.sums[g] + problem.costs[u] + (opens ? state.groupCosts[k] : 0)) / problem.speeds[g];
    // On a tie, the GPU that already stores the group (no new copy).
    if (finish < bestFinish * (1 - REL_EPS) || (finish <= bestFinish * (1 + REL_EPS) && bestOpens && !opens)) {
      best = g;
      bestFinish = finish;
      bestOpens = opens;
    }
  }
  return best;
}

function storedAnywhere(state: KvState, k: number): boolean {
  for (let g = 0; g < state.problem.speeds.length; g++) if (state.groupCount[g * state.groups + k] > 0) return true;
  return false;
}

/** After putting one more unit on GPU g, can the remaining units still give every GPU `min` units? */
export function minimumsReachable(min: number, counts: ArrayLike<number>, g: number, remainingAfter: number): boolean {
  if (min === 0) return true;
  let missing = 0;
  for (let h = 0; h < counts.length; h++) missing += Math.max(0, min - (h === g ? counts[h] + 1 : counts[h]));
  return missing <= remainingAfter;
}

/**
 * Moves and swaps off a GPU at the makespan, the change whose larger new load is smallest, while
 * both new loads end below the makespan: each step lowers the makespan or the GPUs at it.
 */
function improveState(state: KvState): void {
  const { problem } = state;
  const speeds = problem.speeds;
  const units = problem.costs.length;
  const gpus = speeds.length;
  const movable = (u: number) => (problem.unit2pin?.[u] ?? -1) < 0;
  const maxIterations = 50 * units * gpus;
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const threshold = makespanOfState(state) * (1 - REL_EPS);
    let bestLoad = Infinity;
    let apply: (() => void) | null = null;
    for (let a = 0; a < gpus && !apply; a++) {
      if (state.sums[a] / speeds[a] < threshold) continue;
      for (let u = 0; u < units; u++) {
        if (state.unit2gpu[u] !== a || !movable(u)) continue;
        for (let b = 0; b < gpus; b++) {
          if (b === a) continue;
          const moved = priceMove(state, u, b);
          const worse = moved ? Math.max(moved.a / speeds[a], moved.b / speeds[b]) : Infinity;
          if (worse < threshold && worse < bestLoad) {
            bestLoad = worse;
            apply = moveBy(state, u, b);
          }
          for (let v = 0; v < units; v++) {
            if (state.unit2gpu[v] !== b || !movable(v)) continue;
            const swapped = priceSwap(state, u, v);
            if (!swapped) continue;
            const load = Math.max(swapped.a / speeds[a], swapped.b / speeds[b]);
            if (load < threshold && load < bestLoad) {
              bestLoad = load;
              apply = swapBy(state, u, v);
            }
          }
        }
      }
    }
    if (!apply) return;
    apply();
  }
}

function moveBy(state: KvState, u: number, b: number): () => void {
  return () => {
    unplaceUnit(state, u);
    placeUnit(state, u, b);
  };
}

function swapBy(state: KvState, u: number, v: number): () => void {
  return () => {
    const [a, b] = [state.unit2gpu[u], state.unit2gpu[v]];
    unplaceUnit(state, u);
    unplaceUnit(state, v);
    placeUnit(state, u, b);
    placeUnit(state, v, a);
  };
}
