import { HplbError } from '../../errors.ts';
import { layerLowerBound } from '../bounds.ts';
import { buildLayerResult, constraintViolation, relativeGap, statusForGap } from '../layer-result.ts';
import type { LayerEngine, LayerProblem, LayerResult, SolveOptions } from '../types.ts';

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

export const contiguousEngine: LayerEngine = {
  name: 'contiguous',
  solveLayer(problem: LayerProblem, options: SolveOptions): LayerResult {
    const now = options.now ?? performance.now.bind(performance);
    const start = now();
    const unit2gpu = contiguousAssignment(problem);
    const lowerBound = layerLowerBound(problem);
    const probe = buildLayerResult(problem, unit2gpu, { lowerBound, status: 'heuristic', engine: 'contiguous', solveMs: 0 });
    const status = statusForGap(relativeGap(probe.makespan, probe.lowerBound), 0, 'heuristic');
    return { ...probe, status, solveMs: now() - start };
  },
};
