/** Layer problems and tasks the pool's tests share: real published budgets, plus a hard instance. */
import { join } from 'node:path';
import { ANALYTIC_COST_MODEL, DEFAULT_WORKLOAD } from '../../src/cost/cost-model.ts';
import type { LayerTask } from '../../src/planner/layer-task.ts';
import type { EngineName } from '../../src/planner/plan.ts';
import { loadProfile, modelsDir } from '../../src/profiles/registry.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';
import type { LayerProblem } from '../../src/solver/types.ts';

const GPUS = 8;

/** [32 layers] Llama-3-8B (MInference budgets, 128K prefill), query-head units, 8 GPUs, equal counts. */
export const LLAMA_LAYERS: readonly LayerProblem[] = (() => {
  const profile = loadProfile(join(modelsDir(), 'llama-3-8b-instruct-262k-minference.json'));
  const headCosts = profile.budgets.map((row) =>
    row.map((budget) => ANALYTIC_COST_MODEL.headCost(budget, DEFAULT_WORKLOAD)),
  );
  return buildLayerProblems({
    headCosts,
    kvGroupSize: 4,
    granularity: 'query-head',
    speeds: new Array(GPUS).fill(1),
    unitsPerGpu: { kind: 'equal' },
  });
})();

/**
 * 64 distinct costs on 8 GPUs, 8 each: far more classes than real layers have, so GLPK's model
 * building alone takes well over a millisecond (10-200 ms measured on 2 cores).
 */
export const HARD_LAYER: LayerProblem = {
  layer: 0,
  costs: Array.from({ length: 64 }, (_, u) => 1000 + 37 * u + ((u * u) % 101)),
  speeds: new Array(GPUS).fill(1),
  minUnitsPerGpu: 8,
  maxUnitsPerGpu: 8,
};

export function taskFor(problem: LayerProblem, engine: EngineName, timeLimitMs = 2000): LayerTask {
  return { problem, engine, timeLimitMs, gapTolerance: 1e-4 };
}
