/**
 * What a layer's KV groups add to the placement problem (DESIGN.md, "Words for memory"): a GPU
 * stores one copy of the K/V of every group it runs a unit of, pays groupCosts[k] for each such
 * copy on top of its units' costs, and the copies summed over GPUs (KV heads stored) may be capped
 * by maxStoredGroups. A GPU's load is (sum of its units' costs + sum over the distinct groups it
 * stores of groupCosts[k]) / speed. Units that are whole groups (KV-group units, MHA heads) carry
 * no unit2group: their group costs are folded into their costs and each stores one KV head.
 */
import type { LayerProblem } from '../types.ts';

/** Groups of a layer with unit2group: [groups] its units, ascending; empty without unit2group. */
export function groupMembers(problem: LayerProblem): number[][] {
  const members: number[][] = [];
  problem.unit2group?.forEach((k, u) => {
    while (members.length <= k) members.push([]);
    members[k].push(u);
  });
  return members;
}

/** Whether some group cost is above zero (in the combined costs or in a phase). */
export function hasGroupCosts(problem: LayerProblem): boolean {
  const positive = (costs: readonly number[] | undefined) => costs?.some((c) => c > 0) ?? false;
  return positive(problem.groupCosts) || (problem.phases?.some((p) => positive(p.groupCosts)) ?? false);
}

/**
 * Whether stored groups cost something or are capped (with unit2group): what engines that place
 * units one by one must price and check. A KV-group limit alone (no cost, no cap) is the problem
 * the engines always solved, and is solved as before.
 */
export function groupsMatter(problem: LayerProblem): problem is LayerProblem & { unit2group: readonly number[] } {
  return problem.unit2group !== undefined && (problem.maxStoredGroups !== undefined || hasGroupCosts(problem));
}

/** Whether the layer needs the KV-aware steps: groupsMatter, or the objective is a mix of phases. */
export function kvFeatured(problem: LayerProblem): boolean {
  return groupsMatter(problem) || (problem.phases !== undefined && problem.phases.length >= 2);
}

/**
 * [gpus] sum of unit costs plus the costs of the distinct groups stored, on each GPU (not divided
 * by speed), for one cost vector and its group costs.
 * @param costs [units] unit costs; @param groupCosts [groups] or undefined (0)
 */
export function gpuSums(
  problem: LayerProblem,
  unit2gpu: readonly number[],
  costs: readonly number[],
  groupCosts: readonly number[] | undefined,
): number[] {
  const gpus = problem.speeds.length;
  const sums = new Array<number>(gpus).fill(0);
  unit2gpu.forEach((g, u) => {
    sums[g] += costs[u];
  });
  const unit2group = problem.unit2group;
  if (!unit2group || !groupCosts?.some((c) => c !== 0)) return sums;
  const seen = new Set<number>();
  unit2gpu.forEach((g, u) => {
    const k = unit2group[u];
    const key = k * gpus + g;
    if (seen.has(key)) return;
    seen.add(key);
    sums[g] += groupCosts[k];
  });
  return sums;
}

/**
 * [gpus] KV heads each GPU stores: its distinct groups (with unit2group), else its unit count
 * (units are whole groups); null when the layer does not know its groups (query-head units of a
 * GQA model without unit2group).
 */
export function kvHeadsPerGpuOf(problem: LayerProblem, unit2gpu: readonly number[]): number[] | null {
  const gpus = problem.speeds.length;
  const perGpu = new Array<number>(gpus).fill(0);
  const unit2group = problem.unit2group;
  if (!unit2group) {
    if (problem.contiguousKvHeads === undefined) return null;
    for (const g of unit2gpu) perGpu[g] += 1;
    return perGpu;
  }
  const seen = new Set<number>();
  unit2gpu.forEach((g, u) => {
    const key = unit2group[u] * gpus + g;
    if (seen.has(key)) return;
    seen.add(key);
    perGpu[g] += 1;
  });
  return perGpu;
}

/** KV heads stored by a placement (sum of kvHeadsPerGpuOf), or null when the layer does not know its groups. */
export function storedKvHeads(problem: LayerProblem, unit2gpu: readonly number[]): number | null {
  const perGpu = kvHeadsPerGpuOf(problem, unit2gpu);
  return perGpu === null ? null : perGpu.reduce((a, b) => a + b, 0);
}
