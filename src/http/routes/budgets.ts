/**
 * POST /v1/budgets: head-adaptive budgets from recovery curves (src/budgets), under the default
 * cost model; a large body is handled whole by a body worker.
 */
import { computeBudgets, type BudgetsRequest } from '../../budgets/budgets.ts';
import type { components } from '../../api-types.ts';
import { sendJson } from '../json-answer.ts';
import type { RouteContext, Routes } from '../route-context.ts';
import { RawJsonBody } from './json-body.ts';

export function registerBudgetRoutes(router: Routes, ctx: RouteContext): void {
  const operation = ctx.validators.operation('computeBudgets');
  router.post('/v1/budgets', ctx.guards.rateLimit, ctx.guards.requireKey, ctx.jsonBody, async (req, res) => {
    const pool = ctx.deps.bodyPool;
    if (req.body instanceof RawJsonBody && pool) {
      // Parsed, validated, computed, serialised and tagged by a body worker: the answer comes back as bytes.
      sendJson(req, res, 200, await pool.budgets(req.body.bytes));
      return;
    }
    const body = operation.body(req.body) as components['schemas']['BudgetsRequest'];
    const answer = computeBudgets(body satisfies BudgetsRequest, ctx.context.resolveCostModel());
    res.json(answer);
  });
}
