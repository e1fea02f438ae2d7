import { constraintViolation } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { minCostAssignment } from './hungarian.ts';
import { moveCostTo } from './moves.ts';
import { createPlacementState } from './placement-state.ts';
import type { MigrationSpec } from './types.ts';

/** Slack on the makespan target for floating-point sums (relative). */
export const TARGET_SLACK = 1e-9;

/**
 * Best relabelling of a placement: GPUs that are interchangeable in the new problem (same speed,
 * no pinned units) may swap labels without changing any load or constraint, so each class of
 * them is matched to labels by a minimum-cost assignment on the move cost.
 * @param unit2gpu [units] a feasible placement of the new problem
 * @returns [units] the same placement up to labels, with the least move cost against the previous one
 */
export function bestRelabelling(problem: LayerProblem, spec: MigrationSpec, unit2gpu: readonly number[]): number[] {
  const gpus = problem.speeds.length;
  const pinned = new Set((problem.unit2pin ?? []).filter((g) => g >= 0));
  const classes = new Map<number, number[]>();
  for (let g = 0; g < gpus; g++) {
    if (pinned.has(g)) continue;
    const members = classes.get(problem.speeds[g]) ?? [];
    members.push(g);
    classes.set(problem.speeds[g], members);
  }
  const gpu2units: number[][] = Array.from({ length: gpus }, () => []);
  unit2gpu.forEach((g, u) => gpu2units[g].push(u));
  const rename = Array.from({ length: gpus }, (_, g) => g);
  for (const members of classes.values()) {
    if (members.length < 2) continue;
    // cost[i][j]: move cost of the units placed on members[i] if that GPU is called members[j].
    const cost = members.map((a) => members.map((b) => gpu2units[a].reduce((s, u) => s + moveCostTo(spec, u, b), 0)));
    minCostAssignment(cost).forEach((j, i) => {
      rename[members[i]] = members[j];
    });
  }
  return unit2gpu.map((g) => rename[g]);
}

/**
 * Lowers the move cost of a placement by single moves and pairwise swaps that keep every load
 * within `target` and every constraint held, best saving first, until none is left. A local
 * search: the result is feasible and never costlier than the start, not proven minimal.
 * @param start [units] a feasible placement with makespan <= target
 */
export function improveMoves(
  problem: LayerProblem,
  spec: MigrationSpec,
  start: readonly number[],
  target: number,
): number[] {
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  const state = createPlacementState(problem, start);
  const { unit2gpu } = state;
  const limit = target * (1 + TARGET_SLACK);
  const movable = (u: number) => (problem.unit2pin?.[u] ?? -1) < 0;
  for (;;) {
    // A saving must beat rounding noise, or equal-cost swaps could cycle.
    const best = { saving: 1e-9 * Math.max(...spec.moveCosts, Number.MIN_VALUE), apply: null as (() => void) | null };
    for (let u = 0; u < units; u++) {
      if (!movable(u)) continue;
      const g = unit2gpu[u];
      const here = moveCostTo(spec, u, g);
      if (here === 0) continue;
      for (let h = 0; h < gpus; h++) {
        if (h === g) continue;
        const there = moveCostTo(spec, u, h);
        const moved = here - there > best.saving ? state.moveSums(u, h) : null;
        if (moved && moved.to / problem.speeds[h] <= limit) {
          Object.assign(best, { saving: here - there, apply: () => state.move(u, h) });
        }
        for (let v = 0; v < units; v++) {
          if (unit2gpu[v] !== h || !movable(v)) continue;
          const saving = here + moveCostTo(spec, v, h) - there - moveCostTo(spec, v, g);
          if (saving <= best.saving) continue;
          const swapped = state.swapSums(u, v);
          if (!swapped || swapped.b / problem.speeds[h] > limit || swapped.a / problem.speeds[g] > limit) continue;
          Object.assign(best, {
            saving,
            apply: () => {
              state.move(u, h);
              state.move(v, g);
            },
          });
        }
      }
    }
    if (!best.apply) return unit2gpu;
    best.apply();
  }
}

/**
 * Repairs the previous placement instead of relabelling a fresh one: while some GPU is above
 * `target`, the single move or swap off that GPU that lowers its excess the most (cheapest on
 * ties) without pushing the other GPU above the target. Few moves when the drift is small.
 * @returns [units] a feasible placement within the target, or null when the previous placement
 *   breaks a constraint of the new problem or the repair gets stuck
 */
export function repairPrevious(problem: LayerProblem, spec: MigrationSpec, target: number): number[] | null {
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  if (constraintViolation(problem, spec.previous) !== null) return null;
  const state = createPlacementState(problem, spec.previous);
  const { unit2gpu, sums } = state;
  const limit = target * (1 + TARGET_SLACK);
  const movable = (u: number) => (problem.unit2pin?.[u] ?? -1) < 0;
  for (let step = 0; step < units * gpus; step++) {
    const load = (i: number) => sums[i] / problem.speeds[i];
    let g = -1;
    for (let i = 0; i < gpus; i++) if (load(i) > limit && (g < 0 || load(i) > load(g))) g = i;
    if (g < 0) return unit2gpu;
    const excess = sums[g] - limit * problem.speeds[g];
    let best: { relief: number; cost: number; apply: () => void } | null = null;
    const offer = (relief: number, cost: number, apply: () => void) => {
      // Relief past the excess is worth nothing more; then the cheaper, then the smaller change.
      const useful = Math.min(relief, excess);
      const better =
        !best || useful > best.relief * (1 + 1e-12) || (useful >= best.relief * (1 - 1e-12) && cost < best.cost);
      if (better) best = { relief: useful, cost, apply };
    };
    for (let u = 0; u < units; u++) {
      if (unit2gpu[u] !== g || !movable(u)) continue;
      for (let h = 0; h < gpus; h++) {
        if (h === g) continue;
        const moveCost = moveCostTo(spec, u, h) - moveCostTo(spec, u, g);
        const moved = state.moveSums(u, h);
        if (moved && moved.to / problem.speeds[h] <= limit)
          offer(sums[g] - moved.from, moveCost, () => state.move(u, h));
        for (let v = 0; v < units; v++) {
          if (unit2gpu[v] !== h || !movable(v)) continue;
          const swapped = state.swapSums(u, v);
          const relief = swapped ? sums[g] - swapped.a : 0;
          if (!swapped || relief <= 0 || swapped.b / problem.speeds[h] > limit) continue;
          offer(relief, moveCost + moveCostTo(spec, v, g) - moveCostTo(spec, v, h), () => {
            state.move(u, h);
            state.move(v, g);
          });
        }
      }
    }
    if (!best) return null;
    (best as { apply: () => void }).apply();
  }
  return null;
}
