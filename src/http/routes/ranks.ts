/**
 * GET /v1/plans/{planId}/ranks: a stored plan as tensor-parallel ranks see it once `apply` has
 * rewritten the checkpoint, in the form of the manifest's layers (src/apply/head-order.ts).
 */
import { headOrder, rankHeads, type HeadCounts } from '../../apply/head-order.ts';
import { HplbError } from '../../errors.ts';
import type { Plan } from '../../planner/plan.ts';
import type { components } from '../api-types.ts';
import { planOf } from '../plan-cache.ts';
import type { RouteContext, Routes } from '../route-context.ts';
import type { ProblemLocals } from '../problem.ts';

export function registerRankRoutes(router: Routes, ctx: RouteContext): void {
  const { cache, deps } = ctx;
  const validator = ctx.validators.operation('getPlanRanks');
  const cacheControl = `public, max-age=${Math.floor(deps.config.cacheTtlMs / 1000)}`;

  router.get('/v1/plans/:planId/ranks', ctx.work, ctx.guards.requireKeyForReads, (req, res) => {
    const { planId } = validator.path(req.params as Record<string, string>) as { planId: string };
    const { kvGroupSize } = validator.query(req.query as Record<string, unknown>) as { kvGroupSize?: number };
    const entry = cache.getById(planId);
    if (!entry) {
      (res.locals as ProblemLocals).pointerIn = 'path';
      const message = `no stored plan with id ${planId}; POST the request again to recompute it`;
      throw new HplbError('PLAN_NOT_FOUND', message, { pointer: '/planId', rule: 'stored' });
    }
    (res.locals as ProblemLocals).pointerIn = 'query';
    const plan = planOf(entry);
    const order = rankOrder(plan, headCounts(plan, kvGroupSize, ctx));
    const ranks = rankHeads(plan, order);
    res.setHeader('Cache-Control', cacheControl);
    res.json({
      planId: plan.id,
      model: plan.model.id,
      granularity: plan.granularity,
      tensorParallelSize: order.gpus,
      queryHeads: order.queryHeads,
      kvHeads: order.kvHeads,
      outputKvHeads: order.outputKvHeads,
      kvCacheFactor: order.kvCacheFactor,
      expandKvNeeded: order.outputKvHeads !== order.kvHeads,
      layers: order.layers.map((l, i) => ({ ...l, ranks: ranks[i].ranks })),
    } satisfies components['schemas']['PlanRanks']);
  });
}

/** The head order apply writes (with KV duplication when needed); the plan's own faults carry no request pointer. */
function rankOrder(plan: Plan, counts: HeadCounts): ReturnType<typeof headOrder> {
  try {
    return headOrder(plan, counts, { expandKv: true });
  } catch (error) {
    if (error instanceof HplbError && error.code === 'PLAN_MISMATCH') {
      throw new HplbError(error.code, `plan ${plan.id}: ${error.message}`);
    }
    throw error;
  }
}

/** Head counts of the plan's model: the registry's, or derived from the plan's units and kvGroupSize. */
function headCounts(plan: Plan, kvGroupSize: number | undefined, ctx: RouteContext): HeadCounts {
  const profile = plan.model.id === null ? undefined : ctx.deps.registry.get(plan.model.id);
  if (profile !== undefined) {
    const { layers, queryHeads, kvHeads } = profile.architecture;
    if (kvGroupSize !== undefined && kvGroupSize !== queryHeads / kvHeads) {
      const message = `kvGroupSize ${kvGroupSize} differs from model ${profile.id}'s ${queryHeads / kvHeads}`;
      throw new HplbError('INVALID_PROBLEM', message, { pointer: '/kvGroupSize', rule: 'model' });
    }
    return { layers, queryHeads, kvHeads };
  }
  if (kvGroupSize === undefined) {
    const message =
      'kvGroupSize (query heads per KV head) is required for a plan of explicit costs ' + 'or an inline profile';
    throw new HplbError('INVALID_PROBLEM', message, { pointer: '/kvGroupSize', rule: 'required' });
  }
  const units = plan.layers[0].permutation.length;
  const layers = plan.layers.length;
  if (plan.granularity === 'kv-group') return { layers, queryHeads: units * kvGroupSize, kvHeads: units };
  if (units % kvGroupSize !== 0) {
    const message = `${units} query heads do not split into KV groups of ${kvGroupSize}`;
    throw new HplbError('INVALID_PROBLEM', message, { pointer: '/kvGroupSize', rule: 'divides' });
  }
  return { layers, queryHeads: units, kvHeads: units / kvGroupSize };
}
