/**
 * The plan store that replicas share, on Redis (REDIS_URL), with a byte-bounded LRU of this
 * process in front so that hot plans and lookups cost no round trip (local-plans.ts says why a
 * local copy is never stale). Keys, all under one configurable prefix so that deployments can share
 * a Redis:
 *
 *   <prefix>plan:<id>       hash: v, type, etag, facts, unit2gpu, body (redis-records.ts); TTL ttlMs
 *   <prefix>lookup:<key>    the plan id a per-model lookup key maps to; TTL ttlMs
 *   <prefix>lease:<id>      the token of the process solving <id> (redis-lease.ts); TTL leaseMs
 *   <prefix>solved          pub/sub channel: ids whose lease was released
 *
 * Every key expires, so Redis's own eviction can bound memory with `maxmemory` and a
 * `volatile-lru` or `allkeys-lru` policy (docs/replicas.md). Redis faults never reach the caller:
 * a failed read is a miss, a failed write is dropped, both counted, and the store is `degraded`
 * (solving locally, without leases) until Redis answers again.
 */
import { createLocalPlans } from './local-plans.ts';
import type { PlanStore } from './plan-store.ts';
import { createRedisConnection } from './redis-connection.ts';
import { redisKeys } from './redis-keys.ts';
import { REDIS_STORE_DEFAULTS, type RedisStoreOptions } from './redis-options.ts';
import { createWakeups, type LeaseDeps, solveUnderLease } from './redis-lease.ts';
import { createSharedPlans } from './shared-plans.ts';
import { createSingleFlight } from './single-flight.ts';
import { NO_STORE_METRICS, readCounts, type StoreOperation } from './store-metrics.ts';

export interface RedisPlanStore extends PlanStore {
  readonly kind: 'redis';
  /** A raw command on the store's connection, for what else replicas share there (rate limits): RedisConnection.send. */
  send(operation: StoreOperation, args: readonly string[]): Promise<unknown>;
}

export function createRedisStore(options: RedisStoreOptions): RedisPlanStore {
  const settings = { ...REDIS_STORE_DEFAULTS, ...options };
  const { ttlMs } = settings;
  const metrics = options.metrics ?? NO_STORE_METRICS;
  const keys = redisKeys(settings.keyPrefix);
  const local = createLocalPlans({
    maxEntries: settings.localMaxEntries,
    maxBytes: settings.localMaxBytes,
    ttlMs,
    evicted: (cache) => metrics.evicted(cache),
    ...(options.now ? { now: options.now } : {}),
  });
  const wakeups = createWakeups();
  const connection = createRedisConnection({
    ...settings,
    metrics,
    channel: keys.channel,
    onMessage: wakeups.notify,
  });
  const redis = { connection, keys, metrics };
  const shared = createSharedPlans({ ...redis, local, ttlMs });
  const lease: LeaseDeps = {
    ...redis,
    wakeups,
    leaseMs: settings.leaseMs,
    maxWaitMs: settings.maxWaitMs,
    read: shared.get,
    write: (entry) => shared.set(entry),
  };
  const solveOnce = createSingleFlight((id, solve, control) => solveUnderLease(lease, id, solve, control));

  const { found, counted } = readCounts(metrics);
  return {
    kind: 'redis',
    peek: (id) => found('plans', local.get(id)),
    peekLookup: (key) => found('lookups', local.byLookup(key)),
    get: async (id) => counted('plans', await shared.get(id)),
    getByLookup: async (key) => counted('lookups', await shared.getByLookup(key)),
    set: shared.set,
    solveOnce,
    send: connection.send,
    state: () => connection.state(),
    onState: (listener) => connection.onState(listener),
    bytes: () => local.bytes(),
    close: () => connection.close(),
  };
}
