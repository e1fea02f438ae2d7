import type { LayerProblem } from '../types.ts';
import { minCostAssignment } from './hungarian.ts';
import { moveCostTo } from './moves.ts';
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
    minCostAssignment(cost).forEach((j, i) => { rename[members[i]] = members[j]; });
  }
  return unit2gpu.map((g) => rename[g]);
}

/**
 * Lowers the move cost of a placement by single moves and pairwise swaps that keep every load
 * within `target` and every constraint held, best saving first, until none is left. A local
 * search: the result is feasible and never costlier than the start, not proven minimal.
 * @param start [units] a feasible placement with makespan <= target
 */
export function improveMoves(problem: LayerProblem, spec: MigrationSpec, start: readonly number[], target: number): number[] {
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  const unit2gpu = [...start];
  const sums = new Array<number>(gpus).fill(0);
  const counts = new Array<number>(gpus).fill(0);
  const groupCounts = Array.from({ length: gpus }, () => new Map<number, number>());
  const bump = (u: number, g: number, by: number) => {
    sums[g] += by * problem.costs[u];
    counts[g] += by;
    const group = problem.unit2group?.[u];
    if (group !== undefined) groupCounts[g].set(group, (groupCounts[g].get(group) ?? 0) + by);
  };
  unit2gpu.forEach((g, u) => bump(u, g, 1));
  const limit = target * (1 + TARGET_SLACK);
  const minSaving = 1e-9 * Math.max(...spec.moveCosts, Number.MIN_VALUE);
  const fits = (g: number, delta: number) => (sums[g] + delta) / problem.speeds[g] <= limit;
  const groupsAfter = (g: number, leaving: number, arriving: number) => {
    if (problem.maxGroupsPerGpu === undefined || !problem.unit2group) return 0;
    const out = problem.unit2group[leaving];
    const into = problem.unit2group[arriving];
    if (out === into) return groupCounts[g].size;
    let size = groupCounts[g].size;
    if ((groupCounts[g].get(out) ?? 0) === 1) size -= 1;
    if ((groupCounts[g].get(into) ?? 0) === 0) size += 1;
    return size;
  };
  const groupOk = (g: number, leaving: number, arriving: number) =>
    problem.maxGroupsPerGpu === undefined || groupsAfter(g, leaving, arriving) <= problem.maxGroupsPerGpu;
  const arriveOk = (g: number, u: number) => {
    if (problem.maxGroupsPerGpu === undefined || !problem.unit2group) return true;
    const group = problem.unit2group[u];
    return (groupCounts[g].get(group) ?? 0) > 0 || groupCounts[g].size < problem.maxGroupsPerGpu;
  };
  const movable = (u: number) => (problem.unit2pin?.[u] ?? -1) < 0;

  for (;;) {
    // A saving must beat rounding noise, or equal-cost swaps could cycle.
    const best: { saving: number; apply: (() => void) | null } = { saving: minSaving, apply: null };
    const offer = (saving: number, apply: () => void) => {
      if (saving > best.saving) Object.assign(best, { saving, apply });
    };
    for (let u = 0; u < units; u++) {
      if (!movable(u)) continue;
      const g = unit2gpu[u];
      const here = moveCostTo(spec, u, g);
      if (here === 0) continue;
      for (let h = 0; h < gpus; h++) {
        if (h === g) continue;
        const there = moveCostTo(spec, u, h);
        if (counts[g] - 1 >= problem.minUnitsPerGpu && counts[h] + 1 <= problem.maxUnitsPerGpu && fits(h, problem.costs[u]) && arriveOk(h, u)) {
          offer(here - there, () => { bump(u, g, -1); bump(u, h, 1); unit2gpu[u] = h; });
        }
        for (let v = 0; v < units; v++) {
          if (unit2gpu[v] !== h || !movable(v)) continue;
          const saving = here + moveCostTo(spec, v, h) - there - moveCostTo(spec, v, g);
          if (saving <= best.saving) continue;
          const delta = problem.costs[u] - problem.costs[v];
          if (!fits(h, delta) || !fits(g, -delta) || !groupOk(h, v, u) || !groupOk(g, u, v)) continue;
          offer(saving, () => { bump(u, g, -1); bump(v, h, -1); bump(u, h, 1); bump(v, g, 1); unit2gpu[u] = h; unit2gpu[v] = g; });
        }
      }
    }
    if (!best.apply) return unit2gpu;
    best.apply();
  }
}
