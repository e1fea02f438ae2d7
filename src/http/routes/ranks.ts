/**
 * GET /v1/plans/{planId}/ranks: a stored plan as tensor-parallel ranks see it once `apply` has
 * rewritten the checkpoint, in the form of the manifest's layers (src/apply/head-order.ts). The
 * head counts come from the entry's facts here; the answer itself (json-answer.ts) is computed by
 * a body worker when the plan is larger than BODY_WORKER_THRESHOLD_BYTES.
 */
import type { HeadCounts } from '../../apply/head-order.ts';
import { HplbError } from '../../errors.ts';
import { rankAnswer, sendJson } from '../json-answer.ts';
import type { PlanFacts } from '../../store/plan-entry.ts';
import { planInPath, type RouteContext, type Routes } from '../route-context.ts';

export function registerRankRoutes(router: Routes, ctx: RouteContext): void {
  const { deps } = ctx;
  const validator = ctx.validators.operation('getPlanRanks');
  const cacheControl = `public, max-age=${Math.floor(deps.config.cacheTtlMs / 1000)}`;

  router.get('/v1/plans/:planId/ranks', ctx.guards.requireKeyForReads, async (req, res) => {
    const { planId } = validator.path(req.params) as { planId: string };
    const { kvGroupSize } = validator.query(req.query) as { kvGroupSize?: number };
    const entry = await planInPath(ctx, planId);
    res.locals.pointerIn = 'query';
    const counts = headCounts(entry.facts, kvGroupSize, ctx);
    const pool = deps.bodyPool;
    const answer =
      pool && entry.body.length > deps.config.bodyWorkerThresholdBytes
        ? await pool.ranks(entry.body, counts)
        : rankAnswer(entry.body, counts);
    res.setHeader('Cache-Control', cacheControl);
    sendJson(req, res, 200, answer);
  });
}

/** Head counts of the plan's model: the registry's, or derived from the plan's units and kvGroupSize. */
function headCounts(facts: PlanFacts, kvGroupSize: number | undefined, ctx: RouteContext): HeadCounts {
  const profile = facts.modelId === null ? undefined : ctx.deps.registry.get(facts.modelId);
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
  const { units, layers } = facts;
  if (facts.granularity === 'kv-group') return { layers, queryHeads: units * kvGroupSize, kvHeads: units };
  if (units % kvGroupSize !== 0) {
    const message = `${units} query heads do not split into KV groups of ${kvGroupSize}`;
    throw new HplbError('INVALID_PROBLEM', message, { pointer: '/kvGroupSize', rule: 'divides' });
  }
  return { layers, queryHeads: units, kvHeads: units / kvGroupSize };
}
