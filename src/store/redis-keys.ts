/**
 * The names the Redis store uses, every one under the configured prefix so that deployments can
 * share a Redis (what each holds and how long: redis-store.ts), and what each part of the store
 * that talks to Redis is given.
 */
import type { RedisConnection } from './redis-connection.ts';
import type { StoreMetricsSink } from './store-metrics.ts';

export interface RedisKeys {
  /** The hash of a plan record. */
  plan(id: string): string;
  /** The plan id a per-model lookup key maps to. */
  lookup(key: string): string;
  /** The token of the process solving a plan id. */
  lease(id: string): string;
  /** The pub/sub channel of plan ids whose lease was released. */
  readonly channel: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    plan: (id) => `${prefix}plan:${id}`,
    lookup: (key) => `${prefix}lookup:${key}`,
    lease: (id) => `${prefix}lease:${id}`,
    channel: `${prefix}solved`,
  };
}

/** Redis as a part of the store reaches it: the connection, the names, the metrics its faults count in. */
export interface RedisAccess {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  readonly metrics: StoreMetricsSink;
}
