/**
 * Exact reductions of a KV-capped layer to problems the unit engines already prove fast. Both
 * apply when the cap is exactly the least any placement needs (the default factor 1.0):
 * - whole groups: a cap of one copy per group means every group sits whole on one GPU, so the
 *   layer IS the KV-group problem (a group's cost = its units' costs + its copy's cost);
 * - one group per GPU: a cap equal to the number of GPUs that hold units (G > groups, where vLLM
 *   replicates) means every GPU stores exactly one group, so each group fills its own GPUs and the
 *   groups are independent problems.
 * Each maps feasible placements one to one with equal objectives, so the reduced problem's bound
 * is the layer's.
 */
import { effectiveMinUnits } from '../bounds-dm.ts';
import type { LayerPhase, LayerProblem } from '../types.ts';
import { groupMembers, groupsMatter } from './groups.ts';
import { gpusHoldingUnits } from './min-stored.ts';

/** A reduced problem and the way back to the layer's units. */
export interface WholeGroups {
  /** Units are the layer's groups, in group order. */
  readonly reduced: LayerProblem;
  /** [groups] GPU of each group -> [units] GPU of each unit. */
  expand(group2gpu: readonly number[]): number[];
}

/**
 * The KV-group problem of a layer whose cap allows one copy per group (groups of equal size s: a
 * GPU with m groups holds m x s units, so m is within [ceil(min / s), floor(max / s)] and the
 * per-GPU group limit; a pinned unit pins its group), or null where the reduction does not apply.
 */
export function wholeGroupReduction(problem: LayerProblem): WholeGroups | null {
  if (!groupsMatter(problem)) return null;
  const members = groupMembers(problem);
  const groups = members.filter((list) => list.length > 0).length;
  if (groups !== members.length || problem.maxStoredGroups !== groups) return null;
  const size = members[0].length;
  if (members.some((list) => list.length !== size)) return null;
  const group2pin = members.map((list) => {
    const pins = list.map((u) => problem.unit2pin?.[u] ?? -1).filter((g) => g >= 0);
    return pins.length > 0 ? pins[0] : -1;
  });
  const fold = (costs: readonly number[], groupCosts: readonly number[] | undefined) =>
    members.map((list, k) => list.reduce((s, u) => s + costs[u], groupCosts?.[k] ?? 0));
  const phases: LayerPhase[] | undefined = problem.phases?.map((phase) => ({
    weight: phase.weight,
    costs: fold(phase.costs, phase.groupCosts),
  }));
  const reduced: LayerProblem = {
    layer: problem.layer,
    costs: fold(problem.costs, problem.groupCosts),
    speeds: problem.speeds,
    minUnitsPerGpu: Math.ceil(problem.minUnitsPerGpu / size),
    maxUnitsPerGpu: Math.min(Math.floor(problem.maxUnitsPerGpu / size), problem.maxGroupsPerGpu ?? Infinity),
    ...(group2pin.some((g) => g >= 0) ? { unit2pin: group2pin } : {}),
    ...(phases ? { phases } : {}),
  };
  const unit2group = problem.unit2group!;
  return { reduced, expand: (group2gpu) => unit2group.map((k) => group2gpu[k]) };
}

/** The layer as independent groups, each on its own GPUs. */
export interface GroupPerGpu {
  /** [groups] the group's own problem: its units on `gpus` identical GPUs, equal counts. */
  readonly parts: readonly LayerProblem[];
  /** [groups] the group's copy cost, paid once by each of its GPUs (not divided by speed). */
  readonly copyCosts: readonly number[];
  /** [groups][part units] GPU of each unit within the group's part -> [units] GPU of each unit. */
  expand(perGroup: readonly (readonly number[])[]): number[];
}

/**
 * Where every GPU stores exactly one group: the cap equals the GPUs that hold units and equals G
 * (every GPU holds units), identical GPUs, equal counts k dividing the groups' equal size s, no
 * pins and one phase. Group j then takes s / k GPUs of its own (GPUs j s / k on), and its part is
 * its s units on s / k GPUs, k each. Null where it does not apply.
 */
export function groupPerGpuReduction(problem: LayerProblem): GroupPerGpu | null {
  if (!groupsMatter(problem) || problem.unit2pin || problem.phases) return null;
  const gpus = problem.speeds.length;
  const perGpu = problem.minUnitsPerGpu;
  if (problem.maxStoredGroups !== gpus || gpusHoldingUnits(problem) !== gpus) return null;
  if (perGpu !== problem.maxUnitsPerGpu || effectiveMinUnits(problem) !== perGpu || perGpu === 0) return null;
  if (problem.speeds.some((s) => s !== problem.speeds[0])) return null;
  const members = groupMembers(problem);
  const size = members[0]?.length ?? 0;
  if (members.some((list) => list.length !== size) || size % perGpu !== 0) return null;
  const share = size / perGpu;
  if (share * members.length !== gpus) return null;
  const parts = members.map((list) => ({
    layer: problem.layer,
    costs: list.map((u) => problem.costs[u]),
    speeds: problem.speeds.slice(0, share),
    minUnitsPerGpu: perGpu,
    maxUnitsPerGpu: perGpu,
  }));
  const copyCosts = members.map((_, k) => problem.groupCosts?.[k] ?? 0);
  return {
    parts,
    copyCosts,
    expand: (perGroup) => {
      const unit2gpu = new Array<number>(problem.costs.length).fill(-1);
      members.forEach((list, k) => {
        list.forEach((u, i) => {
          unit2gpu[u] = k * share + perGroup[k][i];
        });
      });
      return unit2gpu;
    },
  };
}
