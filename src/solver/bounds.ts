import { integerRoundedBound, unitCostBound } from './bounds-simple.ts';
import { kvFeatured } from './kv/groups.ts';
import { kvMakespanBound } from './kv/bounds.ts';
import type { LayerProblem } from './types.ts';

export { fluidBound, integerRoundedBound, largestUnitBound, pigeonholeBound } from './bounds-simple.ts';

/**
 * The best lower bound on a layer's objective that is cheap to compute. One phase: the largest of
 * the unit-cost bounds (bounds-simple.ts) and, with KV group costs or a cap, the KV bounds
 * (kv/bounds.ts). A mix (sum_p w_p max_g load_p(g)): the larger of the combined problem's bound
 * (the weighted-sum loads' makespan is at most the objective) and sum_p w_p x each phase's bound.
 * Every bound holds for every feasible placement, so any gap computed against it is true.
 */
export function layerLowerBound(problem: LayerProblem): number {
  if (problem.phases) {
    const combined = singlePhaseBound({ ...problem, phases: undefined });
    let perPhase = 0;
    for (const phase of problem.phases) {
      const alone = { ...problem, costs: phase.costs, groupCosts: phase.groupCosts, phases: undefined };
      perPhase += phase.weight * singlePhaseBound(alone);
    }
    return Math.max(combined, perPhase);
  }
  return singlePhaseBound(problem);
}

function singlePhaseBound(problem: LayerProblem): number {
  const base = unitCostBound(problem);
  return kvFeatured(problem) ? integerRoundedBound(problem, Math.max(base, kvMakespanBound(problem))) : base;
}
