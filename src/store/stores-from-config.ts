/**
 * The stores the service runs on, as its configuration says: without REDIS_URL the memory store
 * (rate limits counted by express-rate-limit in this process); with it, the Redis store and rate
 * limits counted in the same Redis, over one connection.
 */
import type { Store as RateLimitStore } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { createMemoryStore } from './memory-store.ts';
import type { PlanStore } from './plan-store.ts';
import { createRateLimitStore } from './rate-limit-store.ts';
import { createRedisStore } from './redis-store.ts';
import type { StoreMetricsSink } from './store-metrics.ts';

export interface Stores {
  readonly plans: PlanStore;
  /** Where rate limits are counted; undefined: in this process. */
  readonly rateLimits?: RateLimitStore;
}

export interface StoresDeps {
  readonly metrics: StoreMetricsSink;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  /** Clock of the local TTLs, ms. */
  readonly now?: () => number;
}

export function createStores(config: Config, deps: StoresDeps): Stores {
  const { metrics, logger } = deps;
  const local = {
    maxEntries: config.cacheMaxEntries,
    maxBytes: config.cacheMaxBytes,
    ttlMs: config.cacheTtlMs,
    ...(deps.now ? { now: deps.now } : {}),
  };
  if (config.redisUrl === null) return { plans: createMemoryStore({ ...local, metrics }) };

  const plans = createRedisStore({
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    ttlMs: local.ttlMs,
    localMaxEntries: local.maxEntries,
    localMaxBytes: local.maxBytes,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    connectTimeoutMs: config.redisConnectTimeoutMs,
    leaseMs: config.redisLeaseMs,
    // The longest plan another replica may solve, and a lease period to store it and say so; a
    // request stops waiting sooner, at its own deadline (plan-service.ts).
    maxWaitMs: config.maxTimeLimitMs + config.redisLeaseMs,
    metrics,
    ...(deps.now ? { now: deps.now } : {}),
  });
  // The host and port, never the URL itself: it may hold a password.
  const where = { store: 'redis', redis: new URL(config.redisUrl).host };
  logger.info(where, 'plan store: Redis (degraded until connected)');
  plans.onState((state) => {
    if (state === 'ok') logger.info(where, 'plan store ok: sharing plans, leases and rate limits through Redis');
    else logger.warn(where, 'plan store degraded: Redis unreachable; solving, storing and counting in this replica');
  });
  const rateLimits = createRateLimitStore({
    send: plans.send,
    state: plans.state,
    prefix: `${config.redisKeyPrefix}rate:`,
    metrics,
  });
  return { plans, rateLimits };
}
