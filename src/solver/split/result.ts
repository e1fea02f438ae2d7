/** A split layer's answer in the Plan shape: loads from rows, makespan, gap, status and KV fields. */
import { type KvFields, type KvMeta, kvFieldsOf, relativeGap, statusForGap } from '../layer-result.ts';
import type { LayerProblem, LayerStatus } from '../types.ts';
import { partLoads } from './part-cost.ts';
import type { LayerSplits, SplitLayerResult, SplitPart } from './types.ts';

/** The split answer in the Plan shape, its loads, makespan, gap and status computed from rows. */
export function buildSplitResult(
  problem: LayerProblem & { splits: LayerSplits },
  unit2gpu: readonly number[],
  parts: readonly SplitPart[],
  meta: {
    lowerBound: number;
    wholeMakespan: number;
    status: LayerStatus;
    gapTolerance: number;
    engine: string;
    solveMs: number;
    fallbackReason?: string;
    splitsDeclined?: string;
    /** The second objective's bound and status, when the answer is the whole-unit one that proved them. */
    kv?: KvMeta;
  },
): SplitLayerResult {
  const gpus = problem.speeds.length;
  const gpuLoads = partLoads(problem, unit2gpu, parts);
  const makespan = Math.max(...gpuLoads);
  const lowerBound = Math.min(meta.lowerBound, makespan);
  const gap = relativeGap(makespan, lowerBound);
  const owners: number[][] = Array.from({ length: gpus }, () => []);
  unit2gpu.forEach((g, u) => owners[g].push(u));
  const held = owners.map((list) => new Set(list));
  for (const part of parts) held[part.gpu].add(part.unit);
  const ownedGroups = owners.map((list) => new Set(list.map((u) => problem.splits.units[u].kvGroup)));
  const extraKv = owners.map(() => new Set<number>());
  for (const part of parts) {
    const group = problem.splits.units[part.unit].kvGroup;
    if (!ownedGroups[part.gpu].has(group)) extraKv[part.gpu].add(group);
  }
  return {
    layer: problem.layer,
    unit2gpu: [...unit2gpu],
    gpu2units: held.map((set) => [...set].sort((a, b) => a - b)),
    permutation: owners.flat(),
    gpuLoads,
    makespan,
    lowerBound,
    gap,
    status: meta.status === 'trivial' ? 'trivial' : statusForGap(gap, meta.gapTolerance, meta.status),
    engine: meta.engine,
    solveMs: meta.solveMs,
    ...(meta.fallbackReason !== undefined && meta.status === 'greedy_fallback'
      ? { fallbackReason: meta.fallbackReason }
      : {}),
    ...splitKvFields(
      problem,
      ownedGroups.map((set, g) => set.size + extraKv[g].size),
      parts.length === 0 ? meta.kv : undefined,
    ),
    parts: [...parts],
    splitHeads: new Set(parts.map((p) => p.unit)).size,
    extraKvCopies: extraKv.map((set) => set.size),
    wholeMakespan: meta.wholeMakespan,
    ...(meta.splitsDeclined !== undefined ? { splitsDeclined: meta.splitsDeclined } : {}),
  };
}

/**
 * The KV fields of a split answer where the layer knows its groups: each GPU stores the groups of
 * the units it owns and of the parts it runs (its own groups plus extraKvCopies). A split never
 * stores fewer than the whole-unit placement of its owners, so minStoredKvHeads still bounds it.
 */
function splitKvFields(problem: LayerProblem, kvHeadsPerGpu: number[], kv: KvMeta | undefined): KvFields {
  if (problem.unit2group === undefined && problem.contiguousKvHeads === undefined) return {};
  return kvFieldsOf(problem, kvHeadsPerGpu, kv);
}
