/**
 * The one way request bodies are read: body-parser's raw reader (its limit, inflation and errors),
 * then parseJsonBody, here on the event loop for a small body, or in a body worker for a large one
 * (the route hands a RawJsonBody to body-pool.ts). Both run the same function, so both answer alike.
 */
import express, { type RequestHandler } from 'express';
import { HplbError } from '../../errors.ts';

/** Deepest nesting of arrays and objects a body may have (every body of the API nests under 10). */
const MAX_BODY_DEPTH = 32;

export interface JsonBodyLimits {
  /** Bytes (413 above). */
  readonly maxBytes: number;
  /** Arrays and objects in the body (413 above). */
  readonly maxContainers: number;
  /** Bodies longer than this are left unparsed for a body worker (RawJsonBody); undefined: every body is parsed here. */
  readonly rawAbove?: number;
}

/** A UTF-8 JSON body left unparsed, for a body worker. */
export class RawJsonBody {
  constructor(readonly bytes: Buffer) {}
}

/** Reads a JSON body within the limits; any other media type or charset is 415 (an absent body is left to validation). */
export function jsonBody(limits: JsonBodyLimits): RequestHandler {
  const read = express.raw({ limit: limits.maxBytes, type: () => true });
  return (req, res, next) => {
    const type = req.headers['content-type'];
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(type ?? '')?.[1]?.toLowerCase();
    if (req.is('application/json') === false || (charset !== undefined && charset !== 'utf-8')) {
      throw new HplbError('UNSUPPORTED_MEDIA_TYPE', `the body is ${String(type)}, not application/json in UTF-8`);
    }
    read(req, res, (error?: unknown) => {
      if (error !== undefined || !Buffer.isBuffer(req.body)) {
        next(error);
        return;
      }
      try {
        const large = limits.rawAbove !== undefined && req.body.length > limits.rawAbove;
        req.body = large ? new RawJsonBody(req.body) : parseJsonBody(req.body, limits.maxContainers);
        next();
      } catch (failure) {
        next(failure);
      }
    });
  };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const LEADING_SPACE = /^[ \t\n\r]*/;

/**
 * A JSON body's value: an empty body is {}, anything else must be an object or an array
 * (MALFORMED_JSON otherwise). The bytes are scanned before JSON.parse: a body of a few hundred
 * thousand tiny arrays costs far more to parse and collect than its size suggests, so one with too
 * many arrays and objects, or nested too deep, is refused unparsed (BODY_TOO_LARGE).
 */
export function parseJsonBody(bytes: Uint8Array, maxContainers: number): unknown {
  checkStructure(bytes, maxContainers);
  const text = new TextDecoder().decode(bytes);
  const first = text[LEADING_SPACE.exec(text)![0].length];
  if (first === undefined) return {};
  if (first !== '{' && first !== '[') {
    throw new HplbError('MALFORMED_JSON', 'the body is not a JSON object: it must start with {', {
      pointer: '',
      rule: 'json',
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HplbError('MALFORMED_JSON', `the body is not valid JSON: ${(error as Error).message}`, {
      pointer: '',
      rule: 'json',
    });
  }
}

/**
 * Counts arrays and objects outside strings, and their depth; BODY_TOO_LARGE above the limits.
 * Plain comparisons on the bytes: this runs over every byte of the body.
 */
function checkStructure(bytes: Uint8Array, maxContainers: number): void {
  let containers = 0;
  let depth = 0;
  let inString = false;
  const length = bytes.length;
  for (let i = 0; i < length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      containers += 1;
      depth += 1;
      if (depth > MAX_BODY_DEPTH)
        throw new HplbError('BODY_TOO_LARGE', `the body nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels`);
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth -= 1;
    }
  }
  if (containers > maxContainers) {
    throw new HplbError(
      'BODY_TOO_LARGE',
      `the body holds ${containers} arrays and objects, more than the limit of ${maxContainers} (MAX_BODY_CONTAINERS)`,
    );
  }
}
