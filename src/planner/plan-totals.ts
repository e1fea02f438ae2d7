/**
 * A plan's model-wide totals: attention time and its bound, the baselines, and what the placement
 * costs in memory (KV heads stored against the contiguous placement's, the largest per-GPU KV
 * cache) and, with a workload mix, per phase.
 */
import { bubbleRatio, contiguousKvHeadsPerGpu } from '../../public/plan-math.js';
import { relativeGap } from '../solver/layer-result.ts';
import { sum } from '../solver/problem.ts';
import type { LayerProblem } from '../solver/types.ts';
import type { PlanLayer, PlanTotals } from './plan.ts';
import { unitsPerGroup, type KvFacts } from './plan-kv.ts';
import { kvLabelBound, largestGpuSum } from './relabel.ts';
import type { ResolvedRequest } from './request.ts';

/** Layer statuses that count as proven (PlanTotals.layersProvenOptimal; solvePlan's second pass skips them). */
export const PROVEN: ReadonlySet<string> = new Set(['optimal', 'within_tolerance', 'trivial']);

/** The request facts the totals need. */
export type TotalsFacts = KvFacts & Pick<ResolvedRequest, 'phases'>;

/**
 * Totals of `layers` (in layer order, with their KV fields: plan-kv.ts withKvFields), whose
 * problems are `problems`; `solveMs` is the plan's wall-clock time.
 */
export function planTotals(
  facts: TotalsFacts,
  layers: readonly PlanLayer[],
  problems: readonly LayerProblem[],
  solveMs: number,
): PlanTotals {
  const makespan = sum(layers.map((l) => l.makespan));
  const lowerBound = sum(layers.map((l) => l.lowerBound));
  const contiguousMakespan = sumOrNull(layers.map((l) => l.contiguousMakespan));
  const meanLoads = sum(layers.map((l) => sum(l.gpuLoads) / l.gpuLoads.length));
  return {
    makespan,
    lowerBound,
    gap: relativeGap(makespan, lowerBound),
    contiguousMakespan,
    greedyMakespan: sumOrNull(layers.map((l) => l.greedyMakespan)),
    speedupVsContiguous: contiguousMakespan !== null && makespan > 0 ? contiguousMakespan / makespan : null,
    bubbleRatio: bubbleRatio(meanLoads, makespan),
    layersProvenOptimal: layers.filter((l) => PROVEN.has(l.status)).length,
    solveMs,
    ...kvTotals(facts, layers, problems),
    ...(facts.mixed ? { phases: phaseTotals(facts, layers) } : {}),
  };
}

type KvTotals = Pick<
  PlanTotals,
  | 'kvHeadsStored'
  | 'contiguousKvHeadsStored'
  | 'kvCacheFactor'
  | 'kvLowerBound'
  | 'layersKvProven'
  | 'kvBytesPerGpuMax'
  | 'kvBytesPerGpuMaxLowerBound'
  | 'contiguousKvBytesPerGpuMax'
>;

function kvTotals(facts: KvFacts, layers: readonly PlanLayer[], problems: readonly LayerProblem[]): KvTotals {
  const perGpu = layers.map((l) => l.kvHeadsPerGpu ?? []);
  const kvHeadsStored = sum(layers.map((l) => l.kvHeadsStored ?? 0));
  // The contiguous placement's KV heads in closed form (the page's formula; a layer's own
  // contiguousKvHeads, where it has one, is the same count).
  const size = unitsPerGroup(facts);
  const contiguousPerGpu = problems.map((p) => contiguousKvHeadsPerGpu(p.costs.length, p.speeds.length, size));
  const contiguousKvHeadsStored = sum(contiguousPerGpu.map((row) => sum(row)));
  const bounds = layers.map((l) => l.kvLowerBound);
  const bytes = facts.kvHeadBytes;
  return {
    kvHeadsStored,
    contiguousKvHeadsStored,
    kvCacheFactor: contiguousKvHeadsStored > 0 ? kvHeadsStored / contiguousKvHeadsStored : 1,
    kvLowerBound: bounds.every((b) => b !== undefined) ? sum(bounds as number[]) : null,
    layersKvProven: layers.filter((l) => l.kvStatus === 'optimal' || l.kvStatus === 'trivial').length,
    kvBytesPerGpuMax: bytes === null ? null : largestGpuSum(perGpu) * bytes,
    kvBytesPerGpuMaxLowerBound: bytes === null ? null : kvLabelBound(perGpu) * bytes,
    contiguousKvBytesPerGpuMax: bytes === null ? null : largestGpuSum(contiguousPerGpu) * bytes,
  };
}

function phaseTotals(facts: TotalsFacts, layers: readonly PlanLayer[]): NonNullable<PlanTotals['phases']> {
  return facts.phases.map(({ phase, seqLen, weight }, p) => {
    const makespan = sum(layers.map((l) => l.phaseMakespans![p]));
    const contiguousMakespan = sumOrNull(layers.map((l) => l.contiguousPhaseMakespans?.[p] ?? null));
    return {
      phase,
      seqLen,
      weight,
      makespan,
      contiguousMakespan,
      speedupVsContiguous: contiguousMakespan !== null && makespan > 0 ? contiguousMakespan / makespan : null,
    };
  });
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  return values.every((v) => v !== null) ? sum(values as number[]) : null;
}
