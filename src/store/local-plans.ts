/**
 * The plans one process holds: the whole of the memory store, and the Redis store's copy in front
 * of Redis. Entries by id in an LRU bounded by the bytes of their bodies and placements
 * (lru-cache), and the per-model lookup index (lookup key -> plan id), so a plan's bytes are held
 * and counted once and a lookup whose plan was evicted is a miss. Neither can be stale, only
 * missing: a plan id is a hash of the normalised request, the profile version and the engine
 * version, so every entry stored under an id answers that request for as long as it lives; a
 * lookup key holds the profile version too, so its plan id changes only under another key.
 */
import { LRUCache } from 'lru-cache';
import { retainedBytes, type PlanEntry } from './plan-entry.ts';
import type { StoreCache } from './store-metrics.ts';

export interface LocalPlansOptions {
  readonly maxEntries: number;
  /** Most bytes of entries held; the least recently used go first. */
  readonly maxBytes: number;
  /** Longest an entry or a lookup is kept, ms. */
  readonly ttlMs: number;
  /** Clock for TTLs, ms (lru-cache's `perf`): tests inject one. */
  readonly now?: () => number;
  /** Called when an entry or a lookup is let go for room or age (hplb_plan_cache_evictions_total). */
  readonly evicted?: (cache: StoreCache) => void;
}

export interface LocalPlans {
  get(id: string): PlanEntry | undefined;
  /** The plan id a lookup key maps to. */
  lookup(key: string): string | undefined;
  /** The entry a lookup key maps to, if both the mapping and the entry are held. */
  byLookup(key: string): PlanEntry | undefined;
  /** Keeps the entry (and the lookup key's mapping) for `ttlMs`, or for the given shorter time. */
  set(entry: PlanEntry, lookupKey?: string, ttlMs?: number): void;
  /** Maps a lookup key to a plan id for `ttlMs`, or for the given shorter time. */
  map(key: string, id: string, ttlMs?: number): void;
  /** Whether this very entry object is held: it was stored here or read from the shared store. */
  holds(entry: PlanEntry): boolean;
  bytes(): { readonly plans: number; readonly lookups: number };
  clear(): void;
}

/** What an entry costs besides its body and placement: id, ETag, objects, the LRU's bookkeeping. */
export const ENTRY_OVERHEAD_BYTES = 512;

export function createLocalPlans(options: LocalPlansOptions): LocalPlans {
  const common = {
    max: options.maxEntries,
    ttl: options.ttlMs,
    // An expired entry is a miss, never served stale.
    allowStale: false,
    ttlResolution: 0,
    ...(options.now ? { perf: { now: options.now } } : {}),
  } as const;
  const dispose =
    (cache: StoreCache) =>
    (_value: unknown, _key: string, reason: LRUCache.DisposeReason): void => {
      if (reason === 'evict' || reason === 'expire') options.evicted?.(cache);
    };
  const plans = new LRUCache<string, PlanEntry>({
    ...common,
    maxSize: options.maxBytes,
    // The backing stores, not the views' lengths: what holding the entry really costs.
    sizeCalculation: (entry) => retainedBytes(entry) + ENTRY_OVERHEAD_BYTES,
    dispose: dispose('plans'),
  });
  // Bounded by maxEntries alone, but counted as what it holds: a key (a lookup's normalised query,
  // a workload mix and all, up to a URL's length) and a plan id, UTF-16 in the heap, and the
  // bookkeeping. maxEntrySize only turns lru-cache's size tracking on.
  const lookups = new LRUCache<string, string>({
    ...common,
    maxEntrySize: Number.MAX_SAFE_INTEGER,
    sizeCalculation: (id, key) => 2 * (key.length + id.length) + ENTRY_OVERHEAD_BYTES,
    dispose: dispose('lookups'),
  });
  return {
    get: (id) => plans.get(id),
    lookup: (key) => lookups.get(key),
    byLookup(key) {
      const id = lookups.get(key);
      return id === undefined ? undefined : plans.get(id);
    },
    set(entry, lookupKey, ttlMs) {
      const ttl = Math.min(ttlMs ?? options.ttlMs, options.ttlMs);
      plans.set(entry.id, entry, { ttl });
      if (lookupKey !== undefined) lookups.set(lookupKey, entry.id, { ttl });
    },
    map(key, id, ttlMs) {
      lookups.set(key, id, { ttl: Math.min(ttlMs ?? options.ttlMs, options.ttlMs) });
    },
    holds: (entry) => plans.peek(entry.id) === entry,
    bytes: () => ({ plans: plans.calculatedSize, lookups: lookups.calculatedSize }),
    clear() {
      plans.clear();
      lookups.clear();
    },
  };
}
