import express, { type Request, type RequestHandler } from 'express';
import { HplbError } from '../../errors.ts';
import { readLargeBody, readsIncrementally } from './large-body.ts';

/** body-parser wraps what verify throws (http-errors); problem.ts turns this type into BODY_TOO_LARGE. */
export const STRUCTURE_ERROR_TYPE = 'entity.structure.exceeded';

const structureError = (message: string): Error =>
  Object.assign(new Error(message), { type: STRUCTURE_ERROR_TYPE, status: 413 });

/** Deepest nesting of arrays and objects a body may have (every body of the API nests under 10). */
export const MAX_BODY_DEPTH = 32;

export interface JsonBodyLimits {
  /** Bytes (413 above). */
  readonly maxBytes: number;
  /** Arrays and objects in the body (413 above). */
  readonly maxContainers: number;
  /**
   * Bodies longer than this (or of unknown length) are read but not parsed: req.body is then a
   * RawJsonBody for a body worker (body-pool.ts). Undefined: every body is parsed here.
   */
  readonly rawAbove?: number;
  /** Where a large body is read into (BodyPool.stage); a fresh buffer otherwise. */
  readonly stage?: (length: number) => Buffer;
}

/** A UTF-8 JSON body left unparsed, for a body worker. */
export class RawJsonBody {
  constructor(readonly bytes: Buffer) {}
}

/** Whether a request's body is one to leave to a body worker: long or of unknown length, and UTF-8. */
function isLarge(req: Request, threshold: number): boolean {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8') return false;
  const length = req.headers['content-length'];
  if (length === undefined) return req.headers['transfer-encoding'] !== undefined;
  return Number(length) > threshold;
}

/**
 * Parses a JSON body within the limits; any other media type is 415 (an absent body is left to
 * validation). The raw bytes are scanned before JSON.parse: a body of a few hundred thousand tiny
 * arrays costs far more to parse and collect than its size suggests, so it is refused unparsed.
 */
export function jsonBody(limits: JsonBodyLimits): RequestHandler {
  const parse = express.json({
    limit: limits.maxBytes,
    strict: true,
    verify: (_req, _res, buffer) => checkStructure(buffer, limits.maxContainers),
  });
  // The same reading as express.json (limit, inflation, errors), without the parse: for compressed bodies.
  const read = express.raw({ limit: limits.maxBytes, type: () => true });
  const threshold = limits.rawAbove;
  return (req, res, next) => {
    if (req.is('application/json') === false) {
      throw new HplbError(
        'UNSUPPORTED_MEDIA_TYPE',
        `the body is ${String(req.headers['content-type'])}, not application/json`,
      );
    }
    if (threshold === undefined || !isLarge(req, threshold)) {
      parse(req, res, next);
      return;
    }
    if (!readsIncrementally(req)) {
      read(req, res, (error?: unknown) => {
        if (error === undefined && Buffer.isBuffer(req.body)) req.body = new RawJsonBody(req.body);
        next(error);
      });
      return;
    }
    readLargeBody(
      req,
      limits.maxBytes,
      (error, body) => {
        if (body !== undefined) req.body = new RawJsonBody(body);
        next(error ?? undefined);
      },
      limits.stage,
    );
  };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Counts arrays and objects outside strings, and their depth; throws a STRUCTURE_ERROR_TYPE error
 * above the limits. Plain comparisons on the bytes: this runs over every byte of the body.
 */
export function checkStructure(buffer: Uint8Array, maxContainers: number): void {
  let containers = 0;
  let depth = 0;
  let inString = false;
  const length = buffer.length;
  for (let i = 0; i < length; i++) {
    const byte = buffer[i];
    if (inString) {
      if (byte === BACKSLASH) i += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      containers += 1;
      depth += 1;
      if (depth > MAX_BODY_DEPTH)
        throw structureError(`the body nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels`);
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth -= 1;
    }
  }
  if (containers > maxContainers) {
    throw structureError(
      `the body holds ${containers} arrays and objects, more than the limit of ${maxContainers} (MAX_BODY_CONTAINERS)`,
    );
  }
}
