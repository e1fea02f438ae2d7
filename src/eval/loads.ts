/**
 * Summaries of per-layer loads that every column of the evaluation shares, and the uniform-budget
 * profile of setting (a). Pure.
 */
import { bubbleRatio } from '../../public/plan-math.js';
import { attendedTokens } from '../profiles/head-budget.ts';
import type { HeadBudget, Profile } from '../profiles/profile.ts';
import { contiguousPlacement } from '../solver/engines/contiguous.ts';
import { gpuLoadsOf } from '../solver/layer-result.ts';
import { sum } from '../solver/problem.ts';
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
  return {
    ...profile,
    id: `${profile.id}-uniform`,
    displayName: `${profile.displayName}, uniform budgets`,
    budgets: profile.budgets.map((row) => {
      const largest = largestBudget(row, seqLen);
      return row.map(() => largest);
    }),
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
 * Fluid bound: sum over layers of (every head's cost + one stored copy of every KV group) / the
 * summed speeds. No placement at any KV-cache cap beats it: every group is stored at least once.
 */
export function fluidBound(layers: readonly LayerProblem[]): number {
  return sum(layers.map((p) => (sum(p.costs) + sum(p.groupCosts ?? [])) / sum(p.speeds)));
}

/**
 * [layers][gpus] loads of contiguous placement in the model's own head order (group costs of the
 * groups each GPU stores included). Plans carry only each layer's contiguous makespan; the plots
 * and the uniform setting need every GPU's load.
 */
export function contiguousLoads(layers: readonly LayerProblem[]): number[][] {
  return layers.map((problem) => gpuLoadsOf(problem, contiguousPlacement(problem)));
}
