/**
 * What stands before the routes: API keys (Bearer) and a per-client rate limit on POST routes
 * (express-rate-limit, counting in this process or, across replicas, in the store it is given).
 * What one connection may leave unread is capped before the app, in connection-guard.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Store } from 'express-rate-limit';
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
}

/** `limits`: where the rate limit counts (src/store/rate-limit-store.ts); none: in this process. */
export function createGuards(config: Config, metrics: Metrics, limits?: Store): Guards {
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
          ...(limits ? { store: limits } : {}),
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

  return { requireKey, requireKeyForReads: config.authReads ? requireKey : pass, rateLimit: limiter };
}
