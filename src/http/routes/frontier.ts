/**
 * GET /v1/models/{modelId}/frontier: one plan per KV-cache cap for the lookup's problem
 * (planner/frontier.ts), each through the plan service, so each is solved on the worker pool,
 * stored and fetchable by id like any plan. The problem is the per-model lookup's (lookup.ts)
 * with the cap left to each point.
 */
import { frontierCaps, solveFrontier, type FrontierPlan } from '../../planner/frontier.ts';
import type { PlanRequest } from '../../planner/request.ts';
import { parseUnitsPerGpu } from '../../solver/problem.ts';
import type { components } from '../../api-types.ts';
import { asQueryError, lookupRequest, normaliseLookup, type LookupParams } from '../lookup.ts';
import { modelInPath, type RouteContext, type Routes } from '../route-context.ts';

export function registerFrontierRoutes(router: Routes, ctx: RouteContext): void {
  const { deps, service } = ctx;
  const validator = ctx.validators.operation('getModelFrontier');
  router.get('/v1/models/:modelId/frontier', ctx.guards.requireKeyForReads, async (req, res) => {
    const { modelId } = validator.path(req.params) as { modelId: string };
    const params = validator.query(req.query) as LookupParams;
    const profile = modelInPath(ctx, modelId);
    res.locals.pointerIn = 'query';
    const { query } = normaliseLookup(modelId, profile.version, params, { costModel: ctx.defaultCostModel });
    const base = lookupRequest(query);
    const { queryHeads, kvHeads } = profile.architecture;
    const rule = parseUnitsPerGpu(base.constraints?.unitsPerGpu ?? 'equal');
    const maxHeadsPerGpu =
      rule.kind === 'equal' ? queryHeads / params.gpus : rule.kind === 'max' ? rule.max : queryHeads;
    const granularity = base.granularity ?? 'query-head';
    const caps = frontierCaps({ queryHeads, kvHeads, gpus: params.gpus, granularity, maxHeadsPerGpu });
    const timeLimitMs = deps.config.defaultTimeLimitMs;
    const plan = async (request: PlanRequest): Promise<FrontierPlan> => {
      const { entry } = await service.plan(() => ctx.normalise(request));
      const { id, layers, totals } = JSON.parse(entry.body.toString('utf8')) as components['schemas']['Plan'];
      return { id, layers: layers.length, totals };
    };
    const points = await solveFrontier(base, caps, timeLimitMs, plan).catch(asQueryError);
    res.json({
      model: modelId,
      gpus: params.gpus,
      timeLimitMsPerPoint: Math.max(1, Math.floor(timeLimitMs / caps.length)),
      points,
    } satisfies components['schemas']['Frontier']);
  });
}
