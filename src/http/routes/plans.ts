/**
 * POST /v1/plans, GET /v1/plans/{planId}, and the per-model lookup GET /v1/models/{modelId}/plan.
 * Plan bodies and ETags are computed once when a plan is stored (plan-cache.ts): answering from
 * the cache writes a stored string.
 */
import type { RequestHandler, Response } from 'express';
import { DEFAULT_WORKLOAD } from '../../cost/cost-model.ts';
import { HplbError } from '../../errors.ts';
import { DEFAULT_TIME_COST_MODEL } from '../../cost/roofline.ts';
import { DEFAULT_MAKESPAN_TOLERANCE } from '../../planner/migration.ts';
import { parseKvFactor, parseMix } from '../../planner/query-forms.ts';
import { DEFAULT_MAX_KV_CACHE_FACTOR, type PlanRequest } from '../../planner/request.ts';
import type { WorkloadPhase } from '../../planner/workload-request.ts';
import type { RouteContext, Routes } from '../route-context.ts';
import { etagMatches, lookupKey, type LookupQuery, type PlanEntry } from '../plan-cache.ts';
import type { ProblemLocals } from '../problem.ts';
import { RawJsonBody } from './json-body.ts';
import { unknownModel } from './models.ts';

type LookupParams = NonNullable<import('../../api-types.ts').operations['getModelPlan']['parameters']['query']>;

/** Query parameters of the lookup, by the body pointers of the problems they turn into. */
const LOOKUP_POINTERS: Readonly<Record<string, string>> = {
  '/gpus/count': '/gpus',
  '/constraints/unitsPerGpu': '/unitsPerGpu',
  '/workload/seqLen': '/seqLen',
  '/costModel': '/costModel',
  '/previous/planId': '/previous',
  '/migration/makespanTolerance': '/makespanTolerance',
  '/constraints/splits/maxSplitHeads': '/splitHeads',
  '/constraints/maxKvCacheFactor': '/maxKvCacheFactor',
  '/constraints/maxKvGroupsPerGpu': '/maxKvGroupsPerGpu',
  '/workload/mix': '/mix',
};

export function registerPlanRoutes(router: Routes, ctx: RouteContext): void {
  const { validators, service, cache, deps } = ctx;
  const cacheControl = `public, max-age=${Math.floor(deps.config.cacheTtlMs / 1000)}`;
  const get = validators.operation('getPlan');
  const lookup = validators.operation('getModelPlan');

  const { guards } = ctx;
  router.post('/v1/plans', ctx.work, guards.rateLimit, guards.requireKey, ctx.jsonBody, async (req, res) => {
    const body: unknown = req.body;
    const outcome =
      body instanceof RawJsonBody && deps.bodyPool
        ? await service.planNormalised(deps.bodyPool.plan(body.bytes))
        : await service.plan(body);
    res.setHeader('Location', `/v1/plans/${outcome.entry.id}`);
    if (outcome.clampedTo !== undefined) res.setHeader('X-Time-Limit-Clamped', String(outcome.clampedTo));
    sendPlan(res, outcome.created ? 201 : 200, outcome.entry);
  });

  router.get('/v1/plans/:planId', guards.requireKeyForReads, (req, res) => {
    const { planId } = get.path(req.params as Record<string, string>) as { planId: string };
    const entry = cache.getById(planId);
    if (!entry) {
      (res.locals as ProblemLocals).pointerIn = 'path';
      throw new HplbError(
        'PLAN_NOT_FOUND',
        `no stored plan with id ${planId}; plans are kept for ${deps.config.cacheTtlMs} ms at most, POST the request again to recompute it`,
        { pointer: '/planId', rule: 'stored' },
      );
    }
    res.setHeader('Cache-Control', cacheControl);
    if (etagMatches(req.headers['if-none-match'], entry.etag)) notModified(res, entry);
    else sendPlan(res, 200, entry);
  });

  const byUrl = ctx.lookupMemo;

  // A lookup already validated is a read from memory; any other may solve: it waits for its turn.
  const lookupWork: RequestHandler = (req, res, next) => {
    if (byUrl.has(req.originalUrl)) next();
    else ctx.work(req, res, next);
  };
  router.get('/v1/models/:modelId/plan', lookupWork, guards.requireKeyForReads, (req, res, next) => {
    let known = byUrl.get(req.originalUrl);
    if (known === undefined) {
      const { modelId } = lookup.path(req.params as Record<string, string>) as { modelId: string };
      const params = lookup.query(req.query as Record<string, unknown>) as LookupParams;
      if (params.makespanTolerance !== undefined && params.previous === undefined) {
        (res.locals as ProblemLocals).pointerIn = 'query';
        throw new HplbError('INVALID_PROBLEM', 'makespanTolerance applies to a re-plan: give previous=<planId> too', {
          pointer: '/makespanTolerance',
          rule: 'dependentRequired',
        });
      }
      const profile = deps.registry.get(modelId);
      if (!profile) {
        (res.locals as ProblemLocals).pointerIn = 'path';
        throw unknownModel(deps.registry, modelId);
      }
      // A cap or mix that does not parse is the query's fault.
      (res.locals as ProblemLocals).pointerIn = 'query';
      const query = normaliseLookup(modelId, profile.version, params, ctx.defaultCostModel);
      known = { query, key: lookupKey(query) };
      byUrl.set(req.originalUrl, known);
    }
    res.setHeader('Cache-Control', cacheControl);
    const hit = cache.getByLookup(known.key);
    if (hit) {
      res.setHeader('X-Cache', 'hit');
      if (etagMatches(req.headers['if-none-match'], hit.etag)) notModified(res, hit);
      else sendPlan(res, 200, hit);
      return;
    }
    const { query } = known;
    const request: PlanRequest = {
      model: query.modelId,
      gpus: { count: query.gpus },
      granularity: query.granularity as PlanRequest['granularity'],
      constraints: {
        unitsPerGpu: query.unitsPerGpu,
        ...(query.splitHeads ? { splits: { maxSplitHeads: query.splitHeads } } : {}),
        maxKvCacheFactor: query.maxKvCacheFactor ?? null,
        ...(query.maxKvGroupsPerGpu ? { maxKvGroupsPerGpu: query.maxKvGroupsPerGpu } : {}),
      },
      workload: query.mix ? { mix: query.mix } : { seqLen: query.seqLen, phase: query.phase as 'prefill' | 'decode' },
      costModel: query.costModel,
      solver: { engine: query.engine as NonNullable<PlanRequest['solver']>['engine'] },
      ...(query.previous
        ? {
            previous: { planId: query.previous },
            migration: { makespanTolerance: query.makespanTolerance ?? undefined },
          }
        : {}),
    };
    service.plan(request, known.key).then(
      (outcome) => {
        res.setHeader('X-Cache', 'miss');
        sendPlan(res, 200, outcome.entry);
      },
      (error: unknown) => next(asQueryError(error, res)),
    );
  });
}

/** The lookup query with every default filled in. */
function normaliseLookup(
  modelId: string,
  modelVersion: string,
  query: LookupParams,
  defaultCostModel: string,
): LookupQuery {
  const kv = kvLookup(query);
  const phase = query.phase ?? DEFAULT_WORKLOAD.phase;
  const timed = kv.mix !== null || phase === 'decode';
  return {
    modelId,
    modelVersion,
    gpus: query.gpus,
    granularity: query.granularity ?? 'query-head',
    unitsPerGpu: query.unitsPerGpu ?? 'equal',
    seqLen: query.seqLen ?? DEFAULT_WORKLOAD.seqLen,
    phase,
    engine: query.engine ?? 'auto',
    costModel: query.costModel ?? (timed ? DEFAULT_TIME_COST_MODEL : defaultCostModel),
    ...kv,
    previous: query.previous ?? null,
    makespanTolerance: query.previous !== undefined ? (query.makespanTolerance ?? DEFAULT_MAKESPAN_TOLERANCE) : null,
    splitHeads: query.splitHeads ?? 0,
  };
}

/**
 * The lookup's KV cap, group limit and workload mix (query-forms.ts, the CLI's forms); a mix
 * replaces seqLen and phase, so naming both is refused.
 */
export function kvLookup(
  query: Pick<LookupParams, 'maxKvCacheFactor' | 'maxKvGroupsPerGpu' | 'mix' | 'seqLen' | 'phase'>,
): Pick<LookupQuery, 'maxKvCacheFactor' | 'maxKvGroupsPerGpu' | 'mix'> {
  const at = (pointer: string) => (error: unknown) => {
    if (error instanceof HplbError) throw new HplbError(error.code, error.message, { pointer, rule: error.rule });
    throw error;
  };
  let maxKvCacheFactor: number | null = DEFAULT_MAX_KV_CACHE_FACTOR;
  let mix: WorkloadPhase[] | null = null;
  try {
    if (query.maxKvCacheFactor !== undefined) maxKvCacheFactor = parseKvFactor(query.maxKvCacheFactor);
  } catch (error) {
    at('/maxKvCacheFactor')(error);
  }
  try {
    if (query.mix !== undefined) mix = parseMix(query.mix);
  } catch (error) {
    at('/mix')(error);
  }
  if (mix !== null && (query.seqLen !== undefined || query.phase !== undefined)) {
    throw new HplbError('INVALID_PROBLEM', 'mix replaces seqLen and phase: give one or the other', {
      pointer: '/mix',
      rule: 'oneOf',
    });
  }
  return { maxKvCacheFactor, maxKvGroupsPerGpu: query.maxKvGroupsPerGpu ?? null, mix };
}

function sendPlan(res: Response, status: number, entry: PlanEntry): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', entry.body.length);
  res.setHeader('ETag', entry.etag);
  res.end(entry.body);
}

function notModified(res: Response, entry: PlanEntry): void {
  res.statusCode = 304;
  res.setHeader('ETag', entry.etag);
  res.end();
}

/** A problem raised for the lookup's implied body, pointed at the query parameter it came from. */
export function asQueryError(error: unknown, res: Response): unknown {
  if (!(error instanceof HplbError) || error.pointer === undefined) return error;
  const pointer = LOOKUP_POINTERS[error.pointer] ?? (error.pointer.startsWith('/workload/mix') ? '/mix' : undefined);
  (res.locals as ProblemLocals).pointerIn = 'query';
  return new HplbError(
    error.code,
    error.message,
    pointer !== undefined ? { pointer, rule: error.rule } : { rule: error.rule },
  );
}
