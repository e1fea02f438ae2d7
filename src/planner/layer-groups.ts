/**
 * Identical layers solved once: layers whose problems are the same up to the order of their units
 * share one canonical problem (units sorted by cost where unit ids do not matter), and its answer
 * is mapped back to each member's own unit ids.
 */
import { buildLayerResult } from '../solver/layer-result.ts';
import { buildSplitResult } from '../solver/split/result.ts';
import type { LayerProblem, LayerResult } from '../solver/types.ts';
import { isSplitResult } from './split-plan.ts';

export interface LayerGroup {
  /** The problem actually solved: the first member's, units sorted by cost when that is allowed (else the member's own). */
  readonly canonical: LayerProblem;
  /** Each member layer and its order: canonical unit i is the member's unit order[i]. */
  readonly members: { readonly problem: LayerProblem; readonly order: readonly number[] }[];
}

/**
 * Groups `layers` by their problem. Units are sorted by cost (largest first) unless `mayReorder`
 * is false or the layer ties units to their ids (pins, KV groups of query heads).
 */
export function groupIdenticalLayers(layers: readonly LayerProblem[], mayReorder: boolean): LayerGroup[] {
  const byKey = new Map<string, LayerGroup>();
  const groups: LayerGroup[] = [];
  for (const problem of layers) {
    const tiedToIds = !mayReorder || problem.unit2pin !== undefined || problem.unit2group !== undefined;
    const order = problem.costs.map((_, u) => u);
    if (!tiedToIds) order.sort((a, b) => problem.costs[b] - problem.costs[a] || a - b);
    // Units tied to their ids keep their order: the layer is its own canonical problem, uncopied.
    const canonical = tiedToIds ? problem : reordered(problem, order);
    const key = JSON.stringify([
      canonical.costs,
      problem.unit2pin ?? null,
      problem.unit2group ?? null,
      problem.groupCosts ?? null,
      problem.maxStoredGroups ?? null,
      canonical.phases?.map((p) => [p.weight, p.costs, p.groupCosts ?? null]) ?? null,
      // A unit's KV group only changes what a split answer reports, not what it costs.
      canonical.splits?.units.map(({ variable, partOverhead, heads }) => [variable, partOverhead, heads]) ?? null,
    ]);
    let group = byKey.get(key);
    if (!group) {
      group = { canonical, members: [] };
      byKey.set(key, group);
      groups.push(group);
    }
    group.members.push({ problem, order });
  }
  return groups;
}

/** The problem with canonical unit i = its unit order[i]: costs, phase costs and split rows reordered. */
function reordered(problem: LayerProblem, order: readonly number[]): LayerProblem {
  const pick = <T>(row: readonly T[]): T[] => order.map((u) => row[u]);
  const { splits, phases } = problem;
  return {
    ...problem,
    costs: pick(problem.costs),
    ...(phases ? { phases: phases.map((phase) => ({ ...phase, costs: pick(phase.costs) })) } : {}),
    ...(splits ? { splits: { ...splits, units: pick(splits.units) } } : {}),
  };
}

/** Translates a canonical answer back to a member layer's own unit ids. */
export function mapBack(problem: LayerProblem, order: readonly number[], canonical: LayerResult): LayerResult {
  const unit2gpu = new Array<number>(order.length);
  order.forEach((u, i) => {
    unit2gpu[u] = canonical.unit2gpu[i];
  });
  const { lowerBound, status, engine, solveMs, fallbackReason } = canonical;
  const kv = kvFieldsOf(canonical);
  if (isSplitResult(canonical) && problem.splits) {
    const parts = canonical.parts.map((part) => ({ ...part, unit: order[part.unit] }));
    const meta = {
      lowerBound,
      status,
      engine,
      solveMs,
      fallbackReason,
      gapTolerance: 0,
      wholeMakespan: canonical.wholeMakespan,
    };
    return { ...buildSplitResult({ ...problem, splits: problem.splits }, unit2gpu, parts, meta), ...kv };
  }
  return { ...buildLayerResult(problem, unit2gpu, { lowerBound, status, engine, solveMs, fallbackReason }), ...kv };
}

/** The answer's KV objective and phase fields, which do not depend on unit ids. */
function kvFieldsOf(result: LayerResult): Partial<LayerResult> {
  const { kvStatus, kvLowerBound, phaseMakespans } = result;
  return {
    ...(kvStatus !== undefined ? { kvStatus } : {}),
    ...(kvLowerBound !== undefined ? { kvLowerBound } : {}),
    ...(phaseMakespans !== undefined ? { phaseMakespans } : {}),
  };
}
