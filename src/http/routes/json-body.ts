import express, { type RequestHandler } from 'express';
import { HplbError } from '../../errors.ts';

/** Parses a JSON body up to `limit` bytes; any other media type is 415 (an absent body is left to validation). */
export function jsonBody(limit: number): RequestHandler {
  const parse = express.json({ limit, strict: true });
  return (req, res, next) => {
    if (req.is('application/json') === false) {
      throw new HplbError('UNSUPPORTED_MEDIA_TYPE', `the body is ${String(req.headers['content-type'])}, not application/json`);
    }
    parse(req, res, next);
  };
}
