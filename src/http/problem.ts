/**
 * The one error handler: every error leaves as application/problem+json (RFC 9457) with the same
 * shape (the Problem schema of openapi.yaml): type, title, status, detail, code, and where known
 * the JSON pointer, the failing rule and the part of the request it is in.
 */
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from 'pino';
import { ERRORS, HplbError, type ErrorCode } from '../errors.ts';
import type { components } from '../api-types.ts';
import type { RequestPart } from '../contract/validation.ts';

type Problem = components['schemas']['Problem'];

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Codes whose answer tells the client when to come back. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['QUEUE_FULL', 'DRAINING']);

declare global {
  namespace Express {
    /** What res.locals carries for the error handler and the access log. */
    interface Locals {
      /** Where pointers of non-validation errors point (default body). */
      pointerIn?: RequestPart;
      /** The code answered, for the access log. */
      errorCode?: ErrorCode;
    }
  }
}

export function problemType(code: ErrorCode): string {
  return `urn:hplb:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** Turns what reached the error handler into an HplbError; anything unrecognised is INTERNAL. */
function toHplbError(error: unknown): HplbError {
  if (error instanceof HplbError) return error;
  const e = error as { type?: unknown; status?: unknown; statusCode?: unknown; message?: unknown };
  // body-parser's reading errors carry a `type`.
  switch (e?.type) {
    case 'entity.too.large':
      return new HplbError(
        'BODY_TOO_LARGE',
        `the body is larger than the limit of ${String((error as { limit?: number }).limit)} bytes (MAX_BODY_BYTES)`,
      );
    case 'encoding.unsupported':
      return new HplbError(
        'UNSUPPORTED_MEDIA_TYPE',
        `the body's Content-Encoding is not supported: ${String(e.message)}`,
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return new HplbError('MALFORMED_JSON', `the body could not be read: ${String(e.message)}`);
  }
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  // The router's own 400 (a path segment that is not valid percent-encoding).
  if (status === 400)
    return new HplbError('VALIDATION_FAILED', `the request could not be read: ${String(e.message)}`, {
      pointer: '',
      rule: 'uri',
    });
  return new HplbError('INTERNAL', 'an internal error occurred; the logs have the details under this request id');
}

function problemBody(error: HplbError, req: Request, res: Response): Problem {
  const { title, status } = ERRORS[error.code];
  const part =
    (error as { in?: RequestPart }).in ?? (error.pointer !== undefined ? (res.locals.pointerIn ?? 'body') : undefined);
  return {
    type: problemType(error.code),
    title,
    status,
    detail: error.message,
    code: error.code,
    instance: req.path,
    requestId: String(res.getHeader('x-request-id') ?? ''),
    ...(error.pointer !== undefined ? { pointer: error.pointer } : {}),
    ...(error.rule !== undefined ? { rule: error.rule } : {}),
    ...(part !== undefined ? { in: part } : {}),
  };
}

export interface ErrorHandlerOptions {
  readonly logger: Logger;
  /** Seconds for Retry-After on QUEUE_FULL and DRAINING. */
  readonly retryAfterSeconds: () => number;
}

export function createErrorHandler(options: ErrorHandlerOptions): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const problem = toHplbError(error);
    if (problem.code === 'INTERNAL') {
      options.logger.error({ err: error, reqId: res.getHeader('x-request-id') }, 'internal error');
    }
    res.locals.errorCode = problem.code;
    if (RETRYABLE.has(problem.code)) res.setHeader('Retry-After', String(options.retryAfterSeconds()));
    res
      .status(ERRORS[problem.code].status)
      .type(PROBLEM_CONTENT_TYPE)
      .send(JSON.stringify(problemBody(problem, req, res)));
  };
}
