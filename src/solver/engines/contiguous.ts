import { HplbError } from '../../errors.ts';
import { constraintViolation, heuristicEngine } from '../layer-result.ts';
import type { LayerEngine, LayerProblem } from '../types.ts';

/**
 * [units] what serving stacks do today: units [g*k, (g+1)*k) on GPU g, with k = ceil(units / G).
 * Throws INFEASIBLE_CONSTRAINTS when that placement breaks a constraint (pins, limits).
 */
export function contiguousAssignment(problem: LayerProblem): number[] {
  const units = problem.costs.length;
  const perGpu = Math.ceil(units / problem.speeds.length);
  const unit2gpu = Array.from({ length: units }, (_, u) => Math.floor(u / perGpu));
  const violation = constraintViolation(problem, unit2gpu);
  if (violation) throw new HplbError('INFEASIBLE_CONSTRAINTS', `contiguous placement breaks a constraint in layer ${problem.layer}: ${violation}`, { rule: 'feasible' });
  return unit2gpu;
}

export const contiguousEngine: LayerEngine = heuristicEngine('contiguous', contiguousAssignment);
