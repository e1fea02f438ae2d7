/**
 * What a body worker does with a large request body (body-pool.ts sends it, body-worker.ts runs
 * it): the steps the event loop runs on a small body, in the same order and with the same errors:
 * the structure scan, body-parser's strict JSON parse, schema validation, then the plan request's
 * normalisation or the whole budgets answer, serialised and tagged. It also answers the ranks of
 * a large stored plan (rank-answer.ts). Errors travel back as plain data (WireError) and are
 * thrown again on the main thread as the HplbError they were.
 */
import type { HeadCounts } from '../apply/head-order.ts';
import { computeBudgets, type BudgetsRequest } from '../budgets/budgets.ts';
import { HplbError, type ErrorCode } from '../errors.ts';
import type { RequestLimits } from '../planner/limits.ts';
import {
  normalisePlanRequest,
  type NormalisedRequest,
  type PlanningContext,
  type PlanRequest,
} from '../planner/request.ts';
import { jsonAnswer, type JsonAnswer } from './json-answer.ts';
import { toHplbError } from './problem.ts';
import { rankAnswer } from './rank-answer.ts';
import { checkStructure } from './routes/json-body.ts';
import type { OperationValidator, RequestPart } from './validation.ts';

/** What each worker is started with. */
export interface BodyWorkerData {
  readonly limits: RequestLimits;
  readonly maxBodyContainers: number;
}

/**
 * Main thread to worker: the body's bytes (transferred), or a stored plan's bytes and the head
 * counts of its model for its ranks. A worker has one request at a time.
 */
export type BodyRequest = (
  | { readonly kind: 'plan' | 'budgets'; readonly bytes: Uint8Array }
  | { readonly kind: 'ranks'; readonly bytes: Uint8Array; readonly counts: HeadCounts }
) & {
  /** The bytes are a view into one of the pool's staging buffers: the reply hands it back. */
  readonly staged?: boolean;
};

/** Worker to main thread: the answer to its body. */
export interface BodyReply {
  readonly outcome: BodyOutcome;
  /** The staging buffer of a staged request, handed back for the next body. */
  readonly returned?: ArrayBuffer;
}

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

/** Parses, validates and answers one request; never throws. */
export function doBodyWork(work: BodyRequest, setup: BodyWorkSetup): BodyOutcome {
  const { kind, bytes } = work;
  try {
    if (work.kind === 'ranks') return { ok: true, kind: work.kind, answer: rankAnswer(bytes, work.counts) };
    checkStructure(bytes, setup.maxBodyContainers);
    const body = parseStrictJson(new TextDecoder().decode(bytes));
    if (kind === 'plan') {
      const normalised = normalisePlanRequest(body, {
        validate: (value) => setup.plan.body(value) as PlanRequest,
        context: setup.context,
        limits: setup.limits,
      });
      return { ok: true, kind, normalised: withoutSourceData(normalised) };
    }
    const request = setup.budgets.body(body) as BudgetsRequest;
    return { ok: true, kind, answer: jsonAnswer(computeBudgets(request, setup.context.resolveCostModel())) };
  } catch (error) {
    return { ok: false, error: toWireError(error) };
  }
}

/** A worker's reply to one request and what it transfers rather than copies (an answer's bytes). */
export function replyTo(work: BodyRequest, setup: BodyWorkSetup): { reply: BodyReply; transfer: ArrayBuffer[] } {
  const outcome = doBodyWork(work, setup);
  const transfer = outcome.ok && outcome.kind !== 'plan' ? [outcome.answer.body.buffer as ArrayBuffer] : [];
  if (!work.staged) return { reply: { outcome }, transfer };
  const returned = work.bytes.buffer as ArrayBuffer;
  return { reply: { outcome, returned }, transfer: [...transfer, returned] };
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

export function toWireError(error: unknown): WireError {
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

const FIRST_NON_WHITESPACE = /^[ \t\n\r]*([^ \t\n\r])/;
const SYNTAX_PLACEHOLDER = /#+/g;

/**
 * JSON.parse as express.json({ strict: true }) runs it (body-parser's lib/types/json.js): an
 * empty body is {}, a body that does not start with { or [ fails with the message the native
 * parser gives at that character, and failures carry body-parser's error type.
 */
export function parseStrictJson(text: string): unknown {
  if (text.length === 0) return {};
  const first = FIRST_NON_WHITESPACE.exec(text)?.[1];
  if (first !== '{' && first !== '[') {
    const index = first === undefined ? -1 : text.indexOf(first);
    const partial = index === -1 ? '' : text.slice(0, index) + '#'.repeat(text.length - index);
    try {
      JSON.parse(partial);
    } catch (error) {
      const message = (error as Error).message.replace(SYNTAX_PLACEHOLDER, (p) => text.slice(index, index + p.length));
      throw parseError(message);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw parseError((error as Error).message);
  }
}

const parseError = (message: string): Error =>
  Object.assign(new SyntaxError(message), { type: 'entity.parse.failed', status: 400 });
