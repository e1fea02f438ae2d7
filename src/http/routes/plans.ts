/**
 * POST /v1/plans, GET /v1/plans/{planId}, and the per-model lookup GET /v1/models/{modelId}/plan.
 * Plan bodies and ETags are computed once when a plan is stored (src/store/plan-entry.ts):
 * answering from the store writes stored bytes.
 */
import type { Request, Response } from 'express';
import { sendJson } from '../json-answer.ts';
import { asQueryError, lookupRequest, normaliseLookup, type KnownLookup, type LookupParams } from '../lookup.ts';
import { modelInPath, planInPath, type RouteContext, type Routes } from '../route-context.ts';

export function registerPlanRoutes(router: Routes, ctx: RouteContext): void {
  const { validators, service, store, deps, guards } = ctx;
  const cacheControl = `public, max-age=${Math.floor(deps.config.cacheTtlMs / 1000)}`;
  const get = validators.operation('getPlan');
  const lookup = validators.operation('getModelPlan');

  router.post('/v1/plans', guards.rateLimit, guards.requireKey, ctx.jsonBody, async (req, res) => {
    const outcome = await service.plan(() => ctx.normalise(req.body));
    res.setHeader('Location', `/v1/plans/${outcome.entry.id}`);
    if (outcome.clampedTo !== undefined) res.setHeader('X-Time-Limit-Clamped', String(outcome.clampedTo));
    sendJson(req, res, outcome.created ? 201 : 200, outcome.entry);
  });

  router.get('/v1/plans/:planId', guards.requireKeyForReads, async (req, res) => {
    const { planId } = get.path(req.params) as { planId: string };
    const entry = await planInPath(ctx, planId);
    res.setHeader('Cache-Control', cacheControl);
    sendJson(req, res, 200, entry);
  });

  const byUrl = ctx.lookupMemo;
  /** The lookup's normalised query: memoised by URL, else validated now. */
  const knownLookup = (req: Request, res: Response): KnownLookup => {
    const memo = byUrl.get(req.originalUrl);
    if (memo) return memo;
    const { modelId } = lookup.path(req.params) as { modelId: string };
    const params = lookup.query(req.query) as LookupParams;
    res.locals.pointerIn = 'query';
    const profile = modelInPath(ctx, modelId);
    const known = normaliseLookup(modelId, profile.version, params, { costModel: ctx.defaultCostModel });
    byUrl.set(req.originalUrl, known);
    return known;
  };
  /** A missed lookup's plan: made once here, not as a closure per request (every cached lookup runs the route). */
  const solveLookup = async ({ query, key }: KnownLookup) =>
    (await service.plan(() => ctx.normalise(lookupRequest(query)), key).catch(asQueryError)).entry;
  router.get('/v1/models/:modelId/plan', guards.requireKeyForReads, async (req, res) => {
    const known = knownLookup(req, res);
    res.setHeader('Cache-Control', cacheControl);
    const hit = store.peekLookup(known.key) ?? (await store.getByLookup(known.key));
    const entry = hit ?? (await solveLookup(known));
    res.setHeader('X-Cache', hit ? 'hit' : 'miss');
    sendJson(req, res, 200, entry);
  });
}
