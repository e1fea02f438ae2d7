import { layerLowerBound } from './bounds.ts';
import { gpuSums, kvHeadsPerGpuOf } from './kv/groups.ts';
import { minStoredKvHeads } from './kv/min-stored.ts';
import type { LayerEngine, LayerProblem, LayerResult, LayerStatus, SolveOptions } from './types.ts';

/** Relative slack under which two loads count as equal (floating-point sums of large costs). */
export const REL_EPS = 1e-9;

/** What a result says about its second objective, the KV heads it stores. */
export interface KvMeta {
  /** A valid lower bound on KV heads stored within the makespan (at least the static one). */
  readonly lowerBound: number;
  /** The status proven by the engine; without it, optimal only when the bound is met. */
  readonly status?: LayerStatus;
}

/**
 * Turns an assignment into a LayerResult in the Plan shape: loads (group costs included), the
 * makespan (with a mix, the weighted sum of the phases' makespans) and, where the layer knows its
 * KV groups, the KV heads each GPU stores and the second objective's status and bound.
 * @param unit2gpu [units] GPU index of each unit
 */
export function buildLayerResult(
  problem: LayerProblem,
  unit2gpu: readonly number[],
  meta: {
    lowerBound: number;
    status: LayerStatus;
    engine: string;
    solveMs: number;
    fallbackReason?: string;
    kv?: KvMeta;
  },
): LayerResult {
  const gpus = problem.speeds.length;
  const gpu2units: number[][] = Array.from({ length: gpus }, () => []);
  unit2gpu.forEach((g, u) => gpu2units[g].push(u));
  const gpuLoads = gpuLoadsOf(problem, unit2gpu);
  const phaseMakespans = problem.phases ? phaseMakespansOf(problem, unit2gpu) : null;
  const makespan = phaseMakespans ? weightedSum(problem, phaseMakespans) : Math.max(...gpuLoads);
  const lowerBound = Math.min(meta.lowerBound, makespan);
  return {
    layer: problem.layer,
    unit2gpu: [...unit2gpu],
    gpu2units,
    permutation: gpu2units.flat(),
    gpuLoads,
    makespan,
    lowerBound,
    gap: relativeGap(makespan, lowerBound),
    status: meta.status,
    engine: meta.engine,
    solveMs: meta.solveMs,
    ...(meta.fallbackReason !== undefined ? { fallbackReason: meta.fallbackReason } : {}),
    ...kvFields(problem, unit2gpu, meta.kv),
    ...(phaseMakespans ? { phaseMakespans } : {}),
  };
}

/**
 * The KV fields of a result (none when the layer does not know its groups): kvStatus is the
 * engine's proven status, else optimal when the stored count meets the bound, else heuristic.
 */
function kvFields(problem: LayerProblem, unit2gpu: readonly number[], kv?: KvMeta): KvFields {
  const kvHeadsPerGpu = kvHeadsPerGpuOf(problem, unit2gpu);
  return kvHeadsPerGpu ? kvFieldsOf(problem, kvHeadsPerGpu, kv) : {};
}

export type KvFields = Pick<LayerResult, 'kvHeadsPerGpu' | 'kvHeadsStored' | 'kvStatus' | 'kvLowerBound'>;

/**
 * The KV fields of an answer whose GPUs store kvHeadsPerGpu[g] KV heads, for a layer that knows
 * its groups; the bound is minStoredKvHeads (or the engine's, if higher), never above the count.
 */
export function kvFieldsOf(problem: LayerProblem, kvHeadsPerGpu: number[], kv?: KvMeta): KvFields {
  const kvHeadsStored = kvHeadsPerGpu.reduce((a, b) => a + b, 0);
  const kvLowerBound = Math.min(kvHeadsStored, Math.max(minStoredKvHeads(problem), kv?.lowerBound ?? 0));
  const kvStatus = kv?.status ?? (kvLowerBound >= kvHeadsStored ? 'optimal' : 'heuristic');
  return { kvHeadsPerGpu, kvHeadsStored, kvStatus, kvLowerBound };
}

/**
 * Wraps a placement function as an engine that proves nothing by itself: its status is
 * `optimal` when the placement happens to meet the static bound, `heuristic` otherwise.
 */
export function heuristicEngine(name: string, assign: (problem: LayerProblem) => number[]): LayerEngine {
  return {
    name,
    solveLayer(problem: LayerProblem, options: SolveOptions): LayerResult {
      const now = options.now ?? performance.now.bind(performance);
      const start = now();
      const unit2gpu = assign(problem);
      const lowerBound = layerLowerBound(problem);
      const status = statusForGap(relativeGap(makespanOf(problem, unit2gpu), lowerBound), 0, 'heuristic');
      return buildLayerResult(problem, unit2gpu, { lowerBound, status, engine: name, solveMs: now() - start });
    },
  };
}

/**
 * [gpus] load of each GPU: (sum of its units' costs + sum of the costs of the distinct KV groups it
 * stores) / its speed. With a mix these are the weighted-sum loads.
 */
export function gpuLoadsOf(problem: LayerProblem, unit2gpu: readonly number[]): number[] {
  return gpuSums(problem, unit2gpu, problem.costs, problem.groupCosts).map((s, g) => s / problem.speeds[g]);
}

/** [phases][gpus] load of each GPU in each phase of a mix ([] without phases). */
export function phaseLoadsOf(problem: LayerProblem, unit2gpu: readonly number[]): number[][] {
  return (problem.phases ?? []).map((phase) =>
    gpuSums(problem, unit2gpu, phase.costs, phase.groupCosts).map((s, g) => s / problem.speeds[g]),
  );
}

/** [phases] makespan of each phase of a mix. */
export function phaseMakespansOf(problem: LayerProblem, unit2gpu: readonly number[]): number[] {
  return phaseLoadsOf(problem, unit2gpu).map((loads) => Math.max(...loads));
}

/** sum_p weight_p x values[p]: a mix's objective from its phases' makespans. */
export function weightedSum(problem: LayerProblem, values: readonly number[]): number {
  let total = 0;
  problem.phases?.forEach((phase, p) => {
    total += phase.weight * values[p];
  });
  return total;
}

/** The objective of a placement: its makespan, or with a mix the weighted sum of its phases' makespans. */
export function makespanOf(problem: LayerProblem, unit2gpu: readonly number[]): number {
  if (problem.phases) return weightedSum(problem, phaseMakespansOf(problem, unit2gpu));
  return Math.max(...gpuLoadsOf(problem, unit2gpu));
}

/**
 * Absolute slack under which two computed work sums count as equal in an exact search. Each side
 * of a comparison is a sum or difference of at most `terms` floating-point values, none larger
 * than `magnitude`, so its rounding error is below terms * 2^-53 * magnitude. A search that cuts
 * a branch only when one side exceeds the other by more than twice the error of both sides loses
 * no placement that meets its target exactly: its "none exists" is a proof.
 */
export function roundingSlack(terms: number, magnitude: number): number {
  return 2 * terms * Number.EPSILON * magnitude;
}

/** (makespan - bound) / makespan, 0 for an empty layer. */
export function relativeGap(makespan: number, lowerBound: number): number {
  if (makespan <= 0) return 0;
  return Math.max(0, (makespan - lowerBound) / makespan);
}

/** Status earned by a gap: optimal when the bound is met, within_tolerance under the tolerance. */
export function statusForGap(gap: number, gapTolerance: number, otherwise: LayerStatus): LayerStatus {
  if (gap <= REL_EPS) return 'optimal';
  // A bound derived as makespan * (1 - tolerance) gives back the tolerance only up to rounding.
  if (gap <= gapTolerance * (1 + 1e-9)) return 'within_tolerance';
  return otherwise;
}

/** First broken constraint of an assignment, or null when it satisfies them all. */
export function constraintViolation(problem: LayerProblem, unit2gpu: readonly number[]): string | null {
  const gpus = problem.speeds.length;
  if (unit2gpu.length !== problem.costs.length) return `expected ${problem.costs.length} units, got ${unit2gpu.length}`;
  const counts = new Array<number>(gpus).fill(0);
  const groups = Array.from({ length: gpus }, () => new Set<number>());
  for (let u = 0; u < unit2gpu.length; u++) {
    const g = unit2gpu[u];
    if (!(Number.isInteger(g) && g >= 0 && g < gpus)) return `unit ${u} on GPU ${g}, which does not exist`;
    const pin = problem.unit2pin?.[u] ?? -1;
    if (pin >= 0 && pin !== g) return `unit ${u} is pinned to GPU ${pin} but placed on GPU ${g}`;
    counts[g] += 1;
    if (problem.unit2group) groups[g].add(problem.unit2group[u]);
  }
  for (let g = 0; g < gpus; g++) {
    if (counts[g] < problem.minUnitsPerGpu || counts[g] > problem.maxUnitsPerGpu) {
      return `GPU ${g} holds ${counts[g]} units, outside ${problem.minUnitsPerGpu}..${problem.maxUnitsPerGpu}`;
    }
    if (problem.maxGroupsPerGpu !== undefined && groups[g].size > problem.maxGroupsPerGpu) {
      return `GPU ${g} holds ${groups[g].size} KV groups, more than ${problem.maxGroupsPerGpu}`;
    }
  }
  if (problem.unit2group && problem.maxStoredGroups !== undefined) {
    const stored = groups.reduce((s, set) => s + set.size, 0);
    if (stored > problem.maxStoredGroups)
      return `the GPUs store ${stored} KV heads, more than the cap of ${problem.maxStoredGroups}`;
  }
  return null;
}
