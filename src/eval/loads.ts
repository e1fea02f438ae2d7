/**
 * Summaries of per-layer loads that every column of the evaluation shares. Pure.
 */
import { bubbleRatio } from '../../public/plan-math.js';
import { fluidTotalOf } from '../planner/split-plan.ts';
import type { Profile } from '../profiles/profile.ts';
import { contiguousPlacement } from '../solver/engines/contiguous.ts';
import { gpuLoadsOf } from '../solver/layer-result.ts';
import type { LayerProblem } from '../solver/types.ts';

/** GPU counts of `candidates` that divide the profile's query heads (equal heads per GPU). */
export function dividingGpuCounts(profile: Profile, candidates: readonly number[]): number[] {
  return candidates.filter((g) => profile.architecture.queryHeads % g === 0);
}

/** Sum over layers of the layer makespan (its largest GPU load); loads are [layers][gpus]. */
export function attentionTime(loads: readonly (readonly number[])[]): number {
  return loads.reduce((s, layer) => s + Math.max(...layer), 0);
}

/** Mean over layers of 1 - mean GPU load / makespan (0 for an idle layer); loads are [layers][gpus]. */
export function meanLayerBubble(loads: readonly (readonly number[])[]): number {
  const bubbles = loads.map((layer) =>
    bubbleRatio(layer.reduce((s, x) => s + x, 0) / layer.length, Math.max(...layer)),
  );
  return bubbles.reduce((s, x) => s + x, 0) / bubbles.length;
}

/**
 * Fluid bound (e): every head's cost and one stored copy of every KV group's, spread over the
 * summed speeds; no placement at any KV-cache cap beats it (the planner's own, as plans with splits report it).
 */
export const fluidBound = fluidTotalOf;

/**
 * [layers][gpus] loads of contiguous placement in the model's own head order (group costs of the
 * groups each GPU stores included). Plans carry only each layer's contiguous makespan; the plots
 * and the uniform setting need every GPU's load.
 */
export function contiguousLoads(layers: readonly LayerProblem[]): number[][] {
  return layers.map((problem) => gpuLoadsOf(problem, contiguousPlacement(problem)));
}
