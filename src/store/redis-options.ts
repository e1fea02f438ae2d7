/**
 * The Redis store's options and their defaults, apart from the store so that the configuration
 * (src/config.ts) takes its defaults from here without loading the Redis client.
 */
import type { StoreMetricsSink } from './store-metrics.ts';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (REDIS_URL). */
  readonly url: string;
  /** Prefix of every key and channel (default "hplb:"): deployments sharing a Redis use their own. */
  readonly keyPrefix?: string;
  /** How long a stored plan and lookup live, ms (CACHE_TTL_MS), in Redis and locally. */
  readonly ttlMs: number;
  /** Bounds of the local LRU: entries, and bytes of bodies and placements. */
  readonly localMaxEntries?: number;
  readonly localMaxBytes?: number;
  /** Longest one Redis command may take, ms; keep it well under a request's deadline. */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Reconnection backoff bounds, ms. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** While degraded, how often Redis is pinged, ms. */
  readonly probeIntervalMs?: number;
  /** Lease period, ms: what a replica that dies mid-solve costs the others. */
  readonly leaseMs?: number;
  /** Longest solveOnce waits for another replica's solve in all, ms (the longest plan time limit and its grace). */
  readonly maxWaitMs?: number;
  readonly metrics?: StoreMetricsSink;
  /** Clock of the local LRU's TTLs, ms: tests inject one. */
  readonly now?: () => number;
}

export const REDIS_STORE_DEFAULTS = Object.freeze({
  keyPrefix: 'hplb:',
  localMaxEntries: 512,
  localMaxBytes: 64 * 1024 * 1024,
  // Long enough for a 2 MB plan on a LAN, short next to a plan request's deadline.
  commandTimeoutMs: 100,
  connectTimeoutMs: 1000,
  reconnectMinMs: 50,
  reconnectMaxMs: 2000,
  probeIntervalMs: 1000,
  leaseMs: 3000,
  maxWaitMs: 65_000,
});
