/** What a body worker builds once at start (body-worker.ts): compiled validators, the registry, the cost models. */
import { createCostModelResolver } from '../cost/registry.ts';
import { loadRegistry } from '../profiles/registry.ts';
import type { BodyWorkerData, BodyWorkSetup } from './body-work.ts';
import { loadSpec } from './openapi.ts';
import { createPlanningContext } from './planning-context.ts';
import { createValidators } from './validation.ts';

export function createBodyWorkSetup(data: BodyWorkerData): BodyWorkSetup {
  const validators = createValidators(loadSpec().document);
  return {
    plan: validators.operation('createPlan'),
    budgets: validators.operation('computeBudgets'),
    context: createPlanningContext({ registry: loadRegistry(), resolveCostModel: createCostModelResolver() }),
    limits: data.limits,
    maxBodyContainers: data.maxBodyContainers,
  };
}
