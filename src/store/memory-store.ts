/**
 * The embedded plan store: the plans of this process (local-plans.ts: an LRU bounded by bytes and
 * the per-model lookup index) and in-process single-flight (single-flight.ts), the same two parts
 * the Redis store puts in front of Redis.
 */
import { createLocalPlans } from './local-plans.ts';
import type { PlanStore } from './plan-store.ts';
import { createSingleFlight } from './single-flight.ts';
import { NO_STORE_METRICS, readCounts, type StoreMetricsSink } from './store-metrics.ts';

export interface MemoryStoreOptions {
  readonly maxEntries: number;
  /** Most bytes of plans held (bodies and placements); the least recently used go first. */
  readonly maxBytes: number;
  /** Time to live of an entry, ms: an expired entry is a miss, never served stale. */
  readonly ttlMs: number;
  /** Where hits, misses and evictions are counted (the app passes its Prometheus counters). */
  readonly metrics?: StoreMetricsSink;
  /** Clock for TTLs (lru-cache's `perf`): tests inject one. */
  readonly now?: () => number;
}

export function createMemoryStore(options: MemoryStoreOptions): PlanStore {
  const metrics = options.metrics ?? NO_STORE_METRICS;
  const local = createLocalPlans({ ...options, evicted: (cache) => metrics.evicted(cache) });
  const { found, counted } = readCounts(metrics);
  return {
    kind: 'memory',
    peek: (id) => found('plans', local.get(id)),
    peekLookup: (key) => found('lookups', local.byLookup(key)),
    get: async (id) => counted('plans', local.get(id)),
    getByLookup: async (key) => counted('lookups', local.byLookup(key)),
    async set(entry, lookupKey) {
      local.set(entry, lookupKey);
    },
    solveOnce: createSingleFlight(async (id, solve) => {
      const held = local.get(id);
      if (held) return { entry: held, solvedHere: false };
      const entry = await solve();
      local.set(entry);
      return { entry, solvedHere: true };
    }),
    state: () => 'ok',
    // Always ok: there is no change to hear.
    onState: () => () => undefined,
    bytes: () => local.bytes(),
    async close() {
      local.clear();
    },
  };
}
