/**
 * What a body worker does with a large request body (body-pool.ts sends it, body-worker.ts runs
 * it): the steps the event loop runs on a small body, with the same functions: parseJsonBody,
 * schema validation, then the plan request's normalisation or the whole budgets answer,
 * serialised and tagged. It also answers the ranks of a large stored plan (json-answer.ts).
 * A request's HplbError travels back as plain data (src/pool/solve-task.ts) and is thrown again on
 * the event loop; any other error comes back as its text, an internal error.
 */
import { Piscina } from 'piscina';
import type { HeadCounts } from '../apply/head-order.ts';
import { computeBudgets, type BudgetsRequest } from '../budgets/budgets.ts';
import { createCostModelResolver } from '../cost/registry.ts';
import { HplbError } from '../errors.ts';
import type { RequestLimits } from '../planner/limits.ts';
import {
  normalisePlanRequest,
  type NormalisedRequest,
  type PlanningContext,
  type PlanRequest,
} from '../planner/request.ts';
import { loadRegistry } from '../profiles/registry.ts';
import { jsonAnswer, rankAnswer } from './json-answer.ts';
import { loadSpec } from '../contract/openapi.ts';
import { createPlanningContext } from '../planner/planning-context.ts';

import { parseJsonBody } from './routes/json-body.ts';
import { serializeHplbError, type SerializedHplbError } from '../pool/solve-task.ts';
import { createValidators, type OperationValidator } from '../contract/validation.ts';

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
export interface BodyWorkSetup {
  /** createPlan's body validator. */
  readonly plan: OperationValidator;
  /** computeBudgets' body validator. */
  readonly budgets: OperationValidator;
  readonly context: PlanningContext;
  readonly limits: RequestLimits;
  readonly maxBodyContainers: number;
}

/** A request's answer (a normalised plan request, or an answer ready to send), or why it failed. */
export type BodyOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedHplbError }
  | { readonly ok: false; readonly internal: string };

/** What a worker builds once from its workerData: compiled validators, the registry, the cost models. */
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

/** Parses, validates and answers one request; never throws. An answer's bytes are moved back, not copied. */
export function doBodyWork(work: BodyRequest, setup: BodyWorkSetup): unknown {
  try {
    if (work.kind === 'plan') return { ok: true, value: normalised(work.bytes, setup) } satisfies BodyOutcome;
    const answer =
      work.kind === 'ranks'
        ? rankAnswer(work.bytes, work.counts)
        : jsonAnswer(computeBudgets(budgetsRequest(work.bytes, setup), setup.context.resolveCostModel()));
    const outcome: BodyOutcome = { ok: true, value: answer };
    const transferable = { [Piscina.transferableSymbol]: [answer.body.buffer], [Piscina.valueSymbol]: outcome };
    return Piscina.move(transferable as unknown as Parameters<typeof Piscina.move>[0]);
  } catch (error) {
    if (error instanceof HplbError) return { ok: false, error: serializeHplbError(error) } satisfies BodyOutcome;
    const internal = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { ok: false, internal } satisfies BodyOutcome;
  }
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
