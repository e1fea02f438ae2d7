/**
 * What stands before the routes: API keys (Bearer), a per-client rate limit on POST routes
 * (express-rate-limit, whose store can be swapped for a shared one), and caps on what one
 * connection may leave unread: pipelined requests still waiting for their answers, and bytes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Config } from '../config.ts';
import { HplbError } from '../errors.ts';
import type { Metrics } from './metrics.ts';

const REALM = 'Bearer realm="hplb"';
const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

/** The caller's key when it is one of `keys` (compared in constant time, by digest), else null. */
function verifiedKey(req: Request, keys: readonly Buffer[]): Buffer | null {
  const match = BEARER.exec(req.headers.authorization ?? '');
  if (!match) return null;
  const given = digest(match[1]);
  let found: Buffer | null = null;
  for (const key of keys) if (timingSafeEqual(key, given)) found = key;
  return found;
}

export interface Guards {
  /** 401 UNAUTHORIZED with WWW-Authenticate unless the request carries a configured key; a no-op without keys. */
  readonly requireKey: RequestHandler;
  /** requireKey when reads are configured to need a key, else a no-op. */
  readonly requireKeyForReads: RequestHandler;
  /** 429 RATE_LIMITED with Retry-After and RateLimit/RateLimit-Policy headers past the per-client limit. */
  readonly rateLimit: RequestHandler;
  /**
   * Closes a connection with more than maxPipelinedRequests requests waiting for their answers to
   * be written, or more than maxUnreadBytes written but unread: a client that pipelines requests
   * and never reads would otherwise make the server hold every answer in memory.
   */
  readonly unreadLimit: RequestHandler;
}

export function createGuards(config: Config, metrics: Metrics): Guards {
  const keys = config.apiKeys.map(digest);
  const pass: RequestHandler = (_req, _res, next) => next();

  const requireKey: RequestHandler =
    keys.length === 0
      ? pass
      : (req, res, next) => {
          if (verifiedKey(req, keys)) {
            next();
            return;
          }
          const given = req.headers.authorization !== undefined;
          res.setHeader('WWW-Authenticate', given ? `${REALM}, error="invalid_token"` : REALM);
          throw new HplbError(
            'UNAUTHORIZED',
            given ? 'the API key is not valid' : 'this route needs an API key: send Authorization: Bearer <key>',
          );
        };

  const limiter =
    config.rateLimitMax === 0
      ? pass
      : rateLimit({
          windowMs: config.rateLimitWindowMs,
          limit: config.rateLimitMax,
          // RateLimit and RateLimit-Policy (IETF draft 8); Retry-After on 429.
          standardHeaders: 'draft-8',
          legacyHeaders: false,
          identifier: 'post',
          // A client is its key when it has a valid one (one key may front many addresses), else its
          // address (IPv6 by /56, so one host cannot rotate addresses); unverified keys never count.
          keyGenerator: (req) => {
            const key = keys.length > 0 ? verifiedKey(req, keys) : null;
            return key
              ? `key:${key.toString('hex')}`
              : `ip:${ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? '')}`;
          },
          handler: (_req, res, next) => {
            metrics.rejected.inc({ reason: 'rate_limited' });
            next(
              new HplbError(
                'RATE_LIMITED',
                `more than ${config.rateLimitMax} POST requests in ${config.rateLimitWindowMs / 1000} s from this client; retry after ${String(res.getHeader('Retry-After'))} s`,
              ),
            );
          },
        });

  /** Requests per connection whose responses have not finished (been handed to the socket). */
  const pending = new WeakMap<Socket, number>();
  const unreadLimit: RequestHandler = (req, res, next) => {
    const socket = req.socket;
    // Requests parsed from a connection already closed here: nothing to answer, nothing more to count.
    if (socket.destroyed) return;
    const waiting = (pending.get(socket) ?? 0) + 1;
    if (waiting > config.maxPipelinedRequests || socket.writableLength > config.maxUnreadBytes) {
      metrics.connectionsClosed.inc({ reason: 'unread' });
      socket.destroy();
      return;
    }
    pending.set(socket, waiting);
    res.once('close', () => pending.set(socket, (pending.get(socket) ?? 1) - 1));
    next();
  };

  return { requireKey, requireKeyForReads: config.authReads ? requireKey : pass, rateLimit: limiter, unreadLimit };
}
