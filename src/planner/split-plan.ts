/**
 * What a plan with split heads adds: every layer's parts, split heads and extra KV copies (with
 * their bytes when the architecture is known), and the model-wide fluid bound and split count.
 * A plan without splits has none of these fields.
 */
import { sum } from '../solver/problem.ts';
import type { SplitLayerResult } from '../solver/split/types.ts';
import type { LayerProblem, LayerResult } from '../solver/types.ts';
import type { PlanLayer } from './plan.ts';
import type { ResolvedRequest } from './request.ts';

export function isSplitResult(result: LayerResult): result is SplitLayerResult {
  return 'parts' in result;
}

/**
 * The split fields of every layer (a layer answered without splitting, e.g. by greedy after a
 * failure, gets none split) and the totals they add.
 * @param problems [layers] the resolved layer problems, in layer order
 */
export function splitPlanFields(
  resolved: ResolvedRequest,
  layers: readonly PlanLayer[],
  problems: readonly LayerProblem[],
): { layers: PlanLayer[]; fluidBound: number; splitHeads: number } {
  const bytesPerCopy = resolved.kvHeadBytes;
  const withParts = layers.map((layer): PlanLayer => {
    const split = isSplitResult(layer) ? layer : null;
    const extraKvCopies = split ? split.extraKvCopies : new Array<number>(layer.gpuLoads.length).fill(0);
    return {
      ...layer,
      parts: split ? split.parts : [],
      splitHeads: split ? split.splitHeads : 0,
      extraKvCopies,
      extraKvBytes: bytesPerCopy === null ? null : extraKvCopies.map((c) => c * bytesPerCopy),
      wholeMakespan: split ? split.wholeMakespan : layer.makespan,
    };
  });
  return {
    layers: withParts,
    fluidBound: fluidTotalOf(problems),
    splitHeads: sum(withParts.map((l) => l.splitHeads ?? 0)),
  };
}

/**
 * Sum over layers of the fluid bound: every unit's cost and one copy of every KV group's cost,
 * spread over the summed speeds (work split freely, each group stored once): no placement, split
 * or not, can beat it.
 */
export function fluidTotalOf(problems: readonly LayerProblem[]): number {
  return sum(problems.map((p) => (sum(p.costs) + sum(p.groupCosts ?? [])) / sum(p.speeds)));
}
