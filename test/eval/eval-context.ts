import { createCostModelResolver } from '../../src/cost/registry.ts';
import type { EvalContext } from '../../src/eval/plans.ts';
import { EVAL_SOLVER, EVAL_WORKLOAD } from '../../src/eval/settings.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner } from '../../src/planner/layer-task.ts';

/**
 * The evaluation's context with layers solved on this thread: its workload and limits, and the
 * prefill cost model named `costModel` (default: the project's).
 */
export async function inlineEvalContext(costModel?: string): Promise<EvalContext> {
  const resolveCostModel = createCostModelResolver();
  return {
    costModel: resolveCostModel(costModel),
    resolveCostModel,
    workload: EVAL_WORKLOAD,
    solver: EVAL_SOLVER,
    runner: createInlineRunner(await loadGlpk()),
  };
}
