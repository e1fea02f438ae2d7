/**
 * What a body worker does with a large request body (body-pool.ts sends it, body-worker.ts runs
 * it): the steps the event loop runs on a small body, with the same functions: parseJsonBody,
 * schema validation, then the plan request's normalisation or the whole budgets answer,
 * serialised and tagged. It also answers the ranks of a large stored plan (rank-answer.ts).
 * Errors travel back as plain data (WireError) and are thrown again on the event loop.
 */
import { Piscina } from 'piscina';
import type { HeadCounts } from '../apply/head-order.ts';
import { computeBudgets, type BudgetsRequest } from '../budgets/budgets.ts';
import { createCostModelResolver } from '../cost/registry.ts';
import { HplbError, type ErrorCode } from '../errors.ts';
import type { RequestLimits } from '../planner/limits.ts';
import {
  normalisePlanRequest,
  type NormalisedRequest,
  type PlanningContext,
  type PlanRequest,
} from '../planner/request.ts';
import { loadRegistry } from '../profiles/registry.ts';
import { jsonAnswer, type JsonAnswer } from './json-answer.ts';
import { loadSpec } from './openapi.ts';
import { createPlanningContext } from './planning-context.ts';
import { toHplbError } from './problem.ts';
import { rankAnswer } from './rank-answer.ts';
import { parseJsonBody } from './routes/json-body.ts';
import { createValidators, type OperationValidator, type RequestPart } from './validation.ts';

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

/** An HplbError as plain data; `cause` is the original error's text when it was not an HplbError. */
export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly pointer?: string;
  readonly rule?: string;
  readonly in?: RequestPart;
  readonly cause?: string;
}

export type BodyOutcome =
  | { readonly ok: true; readonly kind: 'plan'; readonly normalised: NormalisedRequest }
  | { readonly ok: true; readonly kind: 'budgets' | 'ranks'; readonly answer: JsonAnswer }
  | { readonly ok: false; readonly error: WireError };

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

/** Parses, validates and answers one request; never throws. */
export function doBodyWork(work: BodyRequest, setup: BodyWorkSetup): BodyOutcome {
  try {
    if (work.kind === 'ranks') return { ok: true, kind: work.kind, answer: rankAnswer(work.bytes, work.counts) };
    const body = parseJsonBody(work.bytes, setup.maxBodyContainers);
    if (work.kind === 'plan') {
      const normalised = normalisePlanRequest(body, {
        validate: (value) => setup.plan.body(value) as PlanRequest,
        context: setup.context,
        limits: setup.limits,
      });
      return { ok: true, kind: work.kind, normalised: withoutSourceData(normalised) };
    }
    const request = setup.budgets.body(body) as BudgetsRequest;
    return { ok: true, kind: work.kind, answer: jsonAnswer(computeBudgets(request, setup.context.resolveCostModel())) };
  } catch (error) {
    return { ok: false, error: toWireError(error) };
  }
}

/** The outcome, with an answer's bytes moved back rather than copied (piscina's transfer protocol). */
export function movable(outcome: BodyOutcome): unknown {
  if (!outcome.ok || outcome.kind === 'plan') return outcome;
  const transferable = { [Piscina.transferableSymbol]: [outcome.answer.body.buffer], [Piscina.valueSymbol]: outcome };
  return Piscina.move(transferable as unknown as Parameters<typeof Piscina.move>[0]);
}

/**
 * The request's costs and profile budgets are already in resolved.layers, and nothing after
 * normalisation reads them (a re-plan reads previous, migration and the architecture): they stay
 * in the worker rather than being copied back to the event loop.
 */
function withoutSourceData(normalised: NormalisedRequest): NormalisedRequest {
  const { costs: _costs, profile, ...rest } = normalised.request;
  const request: PlanRequest = profile ? { ...rest, profile: { ...profile, budgets: [] } } : rest;
  return { ...normalised, request };
}

function toWireError(error: unknown): WireError {
  const problem = toHplbError(error);
  const part = (error as { in?: RequestPart }).in;
  return {
    code: problem.code,
    message: problem.message,
    ...(problem.pointer !== undefined ? { pointer: problem.pointer } : {}),
    ...(problem.rule !== undefined ? { rule: problem.rule } : {}),
    ...(part !== undefined ? { in: part } : {}),
    ...(problem.code === 'INTERNAL'
      ? { cause: error instanceof Error ? (error.stack ?? error.message) : String(error) }
      : {}),
  };
}

/** The error a WireError stood for: an HplbError (with its `in`), or an Error for an internal one. */
export function fromWireError(wire: WireError): Error {
  if (wire.code === 'INTERNAL') return new Error(`body worker: ${wire.cause ?? wire.message}`);
  const error = new HplbError(wire.code, wire.message, { pointer: wire.pointer, rule: wire.rule });
  return wire.in !== undefined ? Object.assign(error, { in: wire.in }) : error;
}
