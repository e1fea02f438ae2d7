/** POST /v1/budgets: head-adaptive budgets from recovery curves (src/budgets), under the default cost model. */
import { computeBudgets, type BudgetsRequest } from '../../budgets/budgets.ts';
import type { components } from '../api-types.ts';
import type { RouteContext, Routes } from '../route-context.ts';
import { jsonBody } from './json-body.ts';

export function registerBudgetRoutes(router: Routes, ctx: RouteContext): void {
  const operation = ctx.validators.operation('computeBudgets');
  router.post(
    '/v1/budgets',
    ctx.guards.rateLimit,
    ctx.guards.requireKey,
    jsonBody({ maxBytes: ctx.deps.config.maxBodyBytes, maxContainers: ctx.deps.config.maxBodyContainers }),
    (req, res) => {
      const body = operation.body(req.body) as components['schemas']['BudgetsRequest'];
      const answer = computeBudgets(body satisfies BudgetsRequest, ctx.context.resolveCostModel());
      res.json(answer);
    },
  );
}
