import { HplbError } from '../../errors.ts';
import { constraintViolation, heuristicEngine } from '../layer-result.ts';
import type { LayerEngine, LayerProblem } from '../types.ts';

/**
 * [units] what serving stacks do today: units [g*k, (g+1)*k) on GPU g, with k = ceil(units / G),
 * whether or not it meets the problem's constraints.
 */
export function contiguousPlacement(problem: LayerProblem): number[] {
  const units = problem.costs.length;
  const perGpu = Math.ceil(units / problem.speeds.length);
  return Array.from({ length: units }, (_, u) => Math.floor(u / perGpu));
}

/**
 * [units] the contiguous placement (contiguousPlacement). Throws INFEASIBLE_CONSTRAINTS when it
 * breaks a constraint (pins, limits).
 */
export function contiguousAssignment(problem: LayerProblem): number[] {
  const unit2gpu = contiguousPlacement(problem);
  const violation = constraintViolation(problem, unit2gpu);
  if (violation)
    throw new HplbError(
      'INFEASIBLE_CONSTRAINTS',
      `contiguous placement breaks a constraint in layer ${problem.layer}: ${violation}`,
      { rule: 'feasible' },
    );
  return unit2gpu;
}

export const contiguousEngine: LayerEngine = heuristicEngine('contiguous', contiguousAssignment);
