/**
 * The embedded plan store: plans of this process in memory, ready to send, in an LRU bounded by
 * the bytes of their bodies (lru-cache), and the per-model lookup index (lookup key -> plan id),
 * so a plan's bytes are held and counted once and a lookup whose plan was evicted is a miss.
 * Single-flight is lru-cache's fetch(): identical calls in flight share one solve.
 */
import { LRUCache } from 'lru-cache';
import type { PlanEntry } from './plan-entry.ts';
import type { PlanStore } from './plan-store.ts';

/** The caches a store counts hits, misses and evictions of (hplb_plan_cache_*_total{cache}). */
export type StoreCache = 'plans' | 'lookups';

/** Where a store reports what happens to its caches (the app passes its Prometheus counters). */
export interface StoreEvents {
  hit(cache: StoreCache): void;
  miss(cache: StoreCache): void;
  evicted(cache: StoreCache): void;
}

export interface MemoryStoreOptions {
  readonly maxEntries: number;
  /** Most bytes of plans held (lru-cache maxSize); the least recently used go first. */
  readonly maxBytes: number;
  /** Time to live of an entry, ms: an expired entry is a miss, never served stale. */
  readonly ttlMs: number;
  readonly events?: StoreEvents;
  /** Clock for TTLs (lru-cache's `perf`): tests inject one. */
  readonly now?: () => number;
}

/** What an entry costs besides its body: the id, the ETag, the object and the LRU's bookkeeping. */
export const ENTRY_OVERHEAD_BYTES = 512;

export function createMemoryStore(options: MemoryStoreOptions): PlanStore {
  const { events } = options;
  const common = {
    max: options.maxEntries,
    ttl: options.ttlMs,
    allowStale: false,
    // Read the clock on every check (cheap) rather than caching it for 1 ms behind a timer.
    ttlResolution: 0,
    ...(options.now ? { perf: { now: options.now } } : {}),
  } as const;
  const evicted =
    (cache: StoreCache) =>
    (_value: unknown, _key: string, reason: LRUCache.DisposeReason): void => {
      if (reason === 'evict' || reason === 'expire') events?.evicted(cache);
    };
  const plans = new LRUCache<string, PlanEntry, () => Promise<PlanEntry>>({
    ...common,
    maxSize: options.maxBytes,
    sizeCalculation: (entry) => entry.body.length + entry.unit2gpu.byteLength + ENTRY_OVERHEAD_BYTES,
    dispose: evicted('plans'),
    fetchMethod: (_id, _stale, { context }) => context(),
  });
  // Keys and ids are short: the entry bound alone keeps this small (512 x ~300 bytes by default).
  const lookups = new LRUCache<string, string>({ ...common, dispose: evicted('lookups') });
  const counted = (cache: StoreCache, entry: PlanEntry | undefined): PlanEntry | undefined => {
    if (entry) events?.hit(cache);
    else events?.miss(cache);
    return entry;
  };
  const peek = (id: string): PlanEntry | undefined => counted('plans', plans.get(id));
  const peekLookup = (key: string): PlanEntry | undefined => {
    const id = lookups.get(key);
    return counted('lookups', id === undefined ? undefined : plans.get(id));
  };
  return {
    kind: 'memory',
    peek,
    peekLookup,
    get: async (id) => peek(id),
    getByLookup: async (key) => peekLookup(key),
    async set(entry, lookupKey) {
      plans.set(entry.id, entry);
      if (lookupKey !== undefined) lookups.set(lookupKey, entry.id);
    },
    async solveOnce(id, solve, options = {}) {
      let solvedHere = false;
      const status: LRUCache.Status<string, PlanEntry, () => Promise<PlanEntry>> = {};
      const context = () => {
        solvedHere = true;
        return solve();
      };
      const fetching = plans.fetch(id, { context, status });
      if (status.fetch === 'inflight') options.joined?.();
      const entry = await fetching;
      // fetch() resolves undefined only for an aborted fetch, and none is aborted here.
      if (!entry) throw new Error(`plan ${id}: the store could not hold the solved plan`);
      return { entry, solvedHere };
    },
    state: () => 'ok',
    bytes: () => ({ plans: plans.calculatedSize, lookups: lookups.size * ENTRY_OVERHEAD_BYTES }),
    async close() {
      plans.clear();
      lookups.clear();
    },
  };
}
