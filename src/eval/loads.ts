/**
 * Summaries of per-layer loads that every column of the evaluation shares, and the uniform-budget
 * profile of setting (a). Pure.
 */
import { bubbleRatio } from '../../public/plan-math.js';
import { fluidTotalOf } from '../planner/split-plan.ts';
import { attendedTokens } from '../profiles/head-budget.ts';
import type { HeadBudget, Profile } from '../profiles/profile.ts';
import { profileVersion } from '../profiles/version.ts';
import { contiguousPlacement } from '../solver/engines/contiguous.ts';
import { gpuLoadsOf } from '../solver/layer-result.ts';
import type { LayerProblem } from '../solver/types.ts';

/** The budget of a layer's head that attends the most tokens at seqLen (first such head on ties). */
export function largestBudget(row: readonly HeadBudget[], seqLen: number): HeadBudget {
  return row.reduce((best, budget) => (attendedTokens(budget, seqLen) > attendedTokens(best, seqLen) ? budget : best));
}

/**
 * The profile with every head of a layer at the layer's largest budget at seqLen, so no head
 * attends fewer tokens than under the adaptive budgets; priced by the same cost model, group
 * costs included.
 */
export function uniformProfile(profile: Profile, seqLen: number): Profile {
  const budgets = profile.budgets.map((row) => {
    const largest = largestBudget(row, seqLen);
    return row.map(() => largest);
  });
  return {
    ...profile,
    id: `${profile.id}-uniform`,
    displayName: `${profile.displayName}, uniform budgets`,
    version: profileVersion(profile.architecture, budgets),
    budgets,
  };
}

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
