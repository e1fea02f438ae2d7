/**
 * What a plan's placement does to memory, per layer: the KV heads each GPU stores (one per
 * distinct KV group of the units it runs or holds a part of), their bytes per sequence, and with
 * a workload mix the makespan of each phase beside the contiguous placement's.
 */
import { HplbError } from '../errors.ts';
import { contiguousPlacement } from '../solver/engines/contiguous.ts';
import { constraintViolation, phaseMakespansOf } from '../solver/layer-result.ts';
import { sum } from '../solver/problem.ts';
import type { LayerProblem, LayerStatus } from '../solver/types.ts';
import type { PlanLayer } from './plan.ts';
import type { ResolvedRequest } from './request.ts';

/** The request facts the KV fields need. */
export type KvFacts = Pick<ResolvedRequest, 'granularity' | 'kvGroupSize' | 'kvHeadBytes' | 'mixed'>;

/** Units per KV group: 1 for KV-group units, kvGroupSize for query heads. */
export function unitsPerGroup(facts: Pick<KvFacts, 'granularity' | 'kvGroupSize'>): number {
  return facts.granularity === 'kv-group' ? 1 : facts.kvGroupSize;
}

/** [units] the KV group of each unit: itself for KV-group units, floor(u / kvGroupSize) for query heads. */
export function unitGroups(facts: Pick<KvFacts, 'granularity' | 'kvGroupSize'>, units: number): number[] {
  const size = unitsPerGroup(facts);
  return Array.from({ length: units }, (_, u) => Math.floor(u / size));
}

/** [gpus] distinct KV groups among the units each GPU runs or holds a part of (gpu2units). */
export function kvHeadsPerGpuOf(gpu2units: readonly (readonly number[])[], unit2group: readonly number[]): number[] {
  return gpu2units.map((units) => new Set(units.map((u) => unit2group[u])).size);
}

/**
 * Whether the KV heads a layer stores are fixed by its units: KV-group units and MHA heads are
 * each their own group, stored once wherever they go.
 */
function storedIsFixed(facts: KvFacts): boolean {
  return facts.granularity === 'kv-group' || facts.kvGroupSize === 1;
}

/**
 * The layer with its KV fields: kvHeadsPerGpu and kvHeadsStored counted from gpu2units,
 * kvBytesPerGpu, the KV objective's status and bound (the solver's; trivial where the count is
 * fixed), and with a mix each phase's makespan for this placement and the contiguous one.
 */
export function withKvFields(facts: KvFacts, problem: LayerProblem, layer: PlanLayer): PlanLayer {
  const kvHeadsPerGpu = kvHeadsPerGpuOf(layer.gpu2units, unitGroups(facts, layer.unit2gpu.length));
  const kvHeadsStored = sum(kvHeadsPerGpu);
  const fixed = storedIsFixed(facts);
  const kvStatus: LayerStatus | undefined = layer.kvStatus ?? (fixed ? 'trivial' : undefined);
  const kvLowerBound = layer.kvLowerBound ?? (fixed ? kvHeadsStored : undefined);
  const bytes = facts.kvHeadBytes;
  return {
    ...layer,
    kvHeadsPerGpu,
    kvHeadsStored,
    kvBytesPerGpu: bytes === null ? null : kvHeadsPerGpu.map((heads) => heads * bytes),
    ...(kvStatus !== undefined ? { kvStatus } : {}),
    ...(kvLowerBound !== undefined ? { kvLowerBound } : {}),
    ...(facts.mixed ? phaseFields(problem, layer) : {}),
  };
}

function phaseFields(
  problem: LayerProblem,
  layer: PlanLayer,
): Pick<PlanLayer, 'phaseMakespans' | 'contiguousPhaseMakespans'> {
  if (!problem.phases) throw new HplbError('INTERNAL', `layer ${problem.layer} of a workload mix has no phases`);
  const contiguous = contiguousPlacement(problem);
  return {
    phaseMakespans: layer.phaseMakespans ?? phaseMakespansOf(problem, layer.unit2gpu),
    contiguousPhaseMakespans:
      constraintViolation(problem, contiguous) === null ? phaseMakespansOf(problem, contiguous) : null,
  };
}
