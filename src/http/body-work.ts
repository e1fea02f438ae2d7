/**
 * What a body worker does with a large request body (body-pool.ts sends it, body-worker.ts runs
 * it): the steps the event loop runs on a small body, with the same functions: parseJsonBody,
 * schema validation, then the plan request's normalisation or the whole budgets answer,
 * serialised and tagged. It also answers the ranks of a large stored plan (json-answer.ts).
 * What it returns or throws travels back as src/pool/worker-thread.ts says (an answer's bytes are
 * moved, not copied; an HplbError is thrown again on the event loop; anything else is an internal
 * error).
 */
import type { HeadCounts } from '../apply/head-order.ts';
import { computeBudgets, type BudgetsRequest } from '../budgets/budgets.ts';
import { createCostModelResolver } from '../cost/registry.ts';
import type { RequestLimits } from '../planner/limits.ts';
import { normalisePlanRequest, type NormalisedRequest, type PlanRequest } from '../planner/request.ts';
import { loadRegistry } from '../profiles/registry.ts';
import { jsonAnswer, rankAnswer } from './json-answer.ts';
import { loadSpec } from '../contract/openapi.ts';
import { createPlanningContext } from '../planner/planning-context.ts';
import { parseJsonBody } from './routes/json-body.ts';
import { Moving } from '../pool/worker-thread.ts';
import { createValidators } from '../contract/validation.ts';

/** What each worker is started with. */
export interface BodyWorkerData {
  readonly limits: RequestLimits;
  readonly maxBodyContainers: number;
}

/** A body's bytes (transferred), or a stored plan's bytes and the head counts of its model for its ranks. */
export type BodyRequest =
  | { readonly kind: 'plan' | 'budgets'; readonly bytes: Uint8Array }
  | { readonly kind: 'ranks'; readonly bytes: Uint8Array; readonly counts: HeadCounts };

/** What a worker is built with, once (compiled validators, registry, cost models). */
export type BodyWorkSetup = ReturnType<typeof createBodyWorkSetup>;

/** What a worker builds once from its workerData: compiled validators, the registry, the cost models. */
export function createBodyWorkSetup(data: BodyWorkerData) {
  const validators = createValidators(loadSpec().document);
  return {
    plan: validators.operation('createPlan'),
    budgets: validators.operation('computeBudgets'),
    context: createPlanningContext({ registry: loadRegistry(), resolveCostModel: createCostModelResolver() }),
    limits: data.limits,
    maxBodyContainers: data.maxBodyContainers,
  };
}

/** Parses, validates and answers one request: a normalised plan request, or an answer whose bytes move back. */
export function doBodyWork(work: BodyRequest, setup: BodyWorkSetup): NormalisedRequest | Moving {
  if (work.kind === 'plan') return normalised(work.bytes, setup);
  const answer =
    work.kind === 'ranks'
      ? rankAnswer(work.bytes, work.counts)
      : jsonAnswer(computeBudgets(budgetsRequest(work.bytes, setup), setup.context.resolveCostModel()));
  return new Moving(answer, [answer.body.buffer as ArrayBuffer]);
}

function budgetsRequest(bytes: Uint8Array, setup: BodyWorkSetup): BudgetsRequest {
  return setup.budgets.body(parseJsonBody(bytes, setup.maxBodyContainers)) as BudgetsRequest;
}

/**
 * The normalised plan request. Its costs and profile budgets are already in resolved.layers, and
 * nothing after normalisation reads them (a re-plan reads previous, migration and the
 * architecture): they stay in the worker rather than being copied back to the event loop.
 */
function normalised(bytes: Uint8Array, setup: BodyWorkSetup): NormalisedRequest {
  const body = parseJsonBody(bytes, setup.maxBodyContainers);
  const validate = (value: unknown) => setup.plan.body(value) as PlanRequest;
  const result = normalisePlanRequest(body, { validate, context: setup.context, limits: setup.limits });
  const { costs: _costs, profile, ...rest } = result.request;
  const request: PlanRequest = profile ? { ...rest, profile: { ...profile, budgets: [] } } : rest;
  return { ...result, request };
}
