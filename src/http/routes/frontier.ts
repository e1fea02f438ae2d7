/**
 * GET /v1/models/{modelId}/frontier: one plan per KV-cache cap for the lookup's problem
 * (planner/frontier.ts), each through the plan service, so each is solved on the worker pool,
 * stored and fetchable by id like any plan.
 */
import { DEFAULT_TIME_COST_MODEL } from '../../cost/roofline.ts';
import { DEFAULT_WORKLOAD } from '../../cost/workload.ts';
import { frontierCaps, solveFrontier, type FrontierPlan } from '../../planner/frontier.ts';
import type { PlanRequest } from '../../planner/request.ts';
import { parseUnitsPerGpu } from '../../solver/problem.ts';
import type { components, operations } from '../../api-types.ts';
import type { ProblemLocals } from '../problem.ts';
import type { RouteContext, Routes } from '../route-context.ts';
import { unknownModel } from './models.ts';
import { asQueryError, kvLookup } from './plans.ts';

type FrontierParams = NonNullable<operations['getModelFrontier']['parameters']['query']>;

export function registerFrontierRoutes(router: Routes, ctx: RouteContext): void {
  const { deps, service } = ctx;
  const validator = ctx.validators.operation('getModelFrontier');
  router.get('/v1/models/:modelId/frontier', ctx.work, ctx.guards.requireKeyForReads, async (req, res, next) => {
    const { modelId } = validator.path(req.params as Record<string, string>) as { modelId: string };
    const params = validator.query(req.query as Record<string, unknown>) as FrontierParams;
    const profile = deps.registry.get(modelId);
    if (!profile) {
      (res.locals as ProblemLocals).pointerIn = 'path';
      throw unknownModel(deps.registry, modelId);
    }
    (res.locals as ProblemLocals).pointerIn = 'query';
    const base = frontierRequest(modelId, params);
    const { queryHeads, kvHeads } = profile.architecture;
    const rule = parseUnitsPerGpu(base.constraints?.unitsPerGpu ?? 'equal');
    const maxHeadsPerGpu =
      rule.kind === 'equal' ? queryHeads / params.gpus : rule.kind === 'max' ? rule.max : queryHeads;
    const shape = {
      queryHeads,
      kvHeads,
      gpus: params.gpus,
      granularity: base.granularity ?? 'query-head',
      maxHeadsPerGpu,
    };
    const caps = frontierCaps(shape);
    const timeLimitMs = deps.config.defaultTimeLimitMs;
    const plan = async (request: PlanRequest): Promise<FrontierPlan> => {
      const { entry } = await service.plan(request);
      const { id, layers, totals } = JSON.parse(entry.body.toString('utf8')) as components['schemas']['Plan'];
      return { id, layers: layers.length, totals };
    };
    try {
      const points = await solveFrontier(base, caps, timeLimitMs, plan);
      const answer: components['schemas']['Frontier'] = {
        model: modelId,
        gpus: params.gpus,
        timeLimitMsPerPoint: Math.max(1, Math.floor(timeLimitMs / caps.length)),
        points,
      };
      res.json(answer);
    } catch (error) {
      next(asQueryError(error, res));
    }
  });
}

/** The lookup's problem for a frontier query, without a cap (each point sets its own). */
function frontierRequest(modelId: string, params: FrontierParams): PlanRequest {
  const kv = kvLookup(params);
  const phase = params.phase ?? DEFAULT_WORKLOAD.phase;
  const timed = kv.mix !== null || phase === 'decode';
  return {
    model: modelId,
    gpus: { count: params.gpus },
    granularity: params.granularity ?? 'query-head',
    constraints: {
      unitsPerGpu: params.unitsPerGpu ?? 'equal',
      ...(kv.maxKvGroupsPerGpu !== null ? { maxKvGroupsPerGpu: kv.maxKvGroupsPerGpu } : {}),
    },
    workload: kv.mix ? { mix: kv.mix } : { seqLen: params.seqLen ?? DEFAULT_WORKLOAD.seqLen, phase },
    ...(params.costModel !== undefined
      ? { costModel: params.costModel }
      : timed
        ? { costModel: DEFAULT_TIME_COST_MODEL }
        : {}),
    solver: { engine: params.engine ?? 'auto' },
  };
}
