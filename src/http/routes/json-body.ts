import express, { type RequestHandler } from 'express';
import { HplbError } from '../../errors.ts';

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
  return (req, res, next) => {
    if (req.is('application/json') === false) {
      throw new HplbError(
        'UNSUPPORTED_MEDIA_TYPE',
        `the body is ${String(req.headers['content-type'])}, not application/json`,
      );
    }
    parse(req, res, next);
  };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = new Set([0x5b, 0x7b]);
const CLOSE = new Set([0x5d, 0x7d]);

/** Counts arrays and objects outside strings, and their depth; throws a STRUCTURE_ERROR_TYPE error above the limits. */
export function checkStructure(buffer: Buffer, maxContainers: number): void {
  let containers = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buffer.length; i++) {
    const byte = buffer[i];
    if (inString) {
      if (byte === BACKSLASH) i += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (OPEN.has(byte)) {
      containers += 1;
      depth += 1;
      if (depth > MAX_BODY_DEPTH)
        throw structureError(`the body nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels`);
    } else if (CLOSE.has(byte)) {
      depth -= 1;
    }
  }
  if (containers > maxContainers) {
    throw structureError(
      `the body holds ${containers} arrays and objects, more than the limit of ${maxContainers} (MAX_BODY_CONTAINERS)`,
    );
  }
}
