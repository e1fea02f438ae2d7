/**
 * Rate limits counted across replicas: express-rate-limit's counts kept in Redis by
 * rate-limit-redis, on the plan store's connection (its command timeout, its health). When Redis
 * cannot count (the store is degraded, or a command fails), this replica counts on its own in
 * express-rate-limit's MemoryStore, and says so (fallback `rate_limit`): a request is never failed
 * or refused because Redis is down, and the limit still holds per replica (N replicas then allow
 * up to N times the limit) until Redis answers again. Counts made meanwhile stay where they were
 * made: a client's count in Redis resumes from what Redis held.
 */
import { MemoryStore, type Options, type Store } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import type { StoreState } from './plan-store.ts';
import type { StoreMetricsSink, StoreOperation } from './store-metrics.ts';

export interface RateLimitStoreDeps {
  /** Sends a raw command to the shared Redis; rejects when it fails (RedisPlanStore.send). */
  readonly send: (operation: StoreOperation, args: readonly string[]) => Promise<unknown>;
  /** The shared store's state: while degraded, counts stay local without trying Redis. */
  readonly state: () => StoreState;
  /** Prefix of the counters' keys, e.g. "hplb:rate:". */
  readonly prefix: string;
  readonly metrics: StoreMetricsSink;
}

/** What rate-limit-redis expects a command to answer. */
type Reply = boolean | number | string | (boolean | number | string)[];

export function createRateLimitStore(deps: RateLimitStoreDeps): Store {
  const shared = new RedisStore({
    prefix: deps.prefix,
    sendCommand: (...args: string[]) => deps.send('rate_limit', args) as Promise<Reply>,
  });
  const local = new MemoryStore();
  let options: Options | undefined;
  // rate-limit-redis loads its scripts in init() and keeps a failed load for good (a Redis down
  // at start-up, or gone again while it reloaded them after a restart): after any failure they
  // are loaded again before the next count in Redis.
  let loaded: Promise<void> | undefined;

  async function counted<T>(inRedis: () => Promise<T>, here: () => Promise<T>): Promise<T> {
    if (deps.state() === 'ok') {
      try {
        loaded ??= shared.init(options!);
        await loaded;
        return await inRedis();
      } catch {
        // A fault of the connection is counted there; this replica counts instead.
        loaded = undefined;
      }
    }
    deps.metrics.fallback('rate_limit');
    return here();
  }

  /** A Store method through Redis, or here (both stores answer alike). */
  const either =
    <M extends 'get' | 'increment' | 'decrement' | 'resetKey'>(method: M) =>
    (key: string) =>
      counted<unknown>(
        () => shared[method](key),
        () => local[method](key),
      ) as ReturnType<MemoryStore[M]>;

  return {
    prefix: deps.prefix,
    localKeys: false,
    init(given) {
      options = given;
      local.init(given);
    },
    get: either('get'),
    increment: either('increment'),
    decrement: either('decrement'),
    resetKey: either('resetKey'),
    shutdown: () => local.shutdown(),
  };
}
