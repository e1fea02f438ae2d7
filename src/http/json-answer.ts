/**
 * A JSON answer made ready to send away from the response: its UTF-8 bytes (in their own
 * ArrayBuffer, so a worker can transfer them) and the ETag Express would give them, so that a
 * body worker does the serialising and hashing a large answer costs, and the event loop only
 * writes it out with the same headers as res.json.
 */
import etag from 'etag';
import type { Request, Response } from 'express';
import fresh from 'fresh';
import type { HeadCounts } from '../apply/head-order.ts';
import { planRanks } from '../apply/plan-ranks.ts';
import type { Plan } from '../planner/plan.ts';

export interface JsonAnswer {
  /** JSON text of the answer, UTF-8. */
  readonly body: Uint8Array;
  /** Express's default (weak) ETag of `body`. */
  readonly etag: string;
}

export function jsonAnswer(value: unknown): JsonAnswer {
  // res.json's text: JSON.stringify with no replacer or spacing (the app sets neither).
  const body = new TextEncoder().encode(JSON.stringify(value));
  return { body, etag: etag(bytesOf(body), { weak: true }) };
}

/**
 * GET /v1/plans/{planId}/ranks's answer from a stored plan's bytes: parsing, ordering and
 * serialising all grow with the plan, so a body worker runs this for a large plan (body-work.ts).
 */
export function rankAnswer(planBytes: Uint8Array, counts: HeadCounts): JsonAnswer {
  return jsonAnswer(planRanks(JSON.parse(new TextDecoder().decode(planBytes)) as Plan, counts));
}

/**
 * Sends JSON bytes with their ETag (a stored plan, or an answer made here or in a body worker), or
 * 304 when the client's copy is fresh (GET and HEAD).
 */
export function sendJson(req: Request, res: Response, status: number, answer: JsonAnswer): void {
  res.setHeader('ETag', answer.etag);
  if (req.method !== 'POST' && fresh(req.headers, { etag: answer.etag })) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', answer.body.byteLength);
  res.end(answer.body);
}

/** A Buffer over the same memory (no copy). */
const bytesOf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
