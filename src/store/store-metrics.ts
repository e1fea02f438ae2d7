/**
 * What a store reports about itself, through a sink the app supplies (prom-client counters on
 * /metrics); the store never imports prom-client, and tests pass a recorder.
 */
import type { PlanEntry } from './plan-entry.ts';

/** The caches a store counts hits, misses and evictions of (hplb_plan_cache_*_total{cache}). */
export type StoreCache = 'plans' | 'lookups';

/** The Redis operations that can fail; a failed one is a miss (reads) or a dropped write. */
export type StoreOperation =
  | 'get'
  | 'get_lookup'
  | 'set'
  | 'claim'
  | 'renew'
  | 'release'
  | 'subscribe'
  | 'decode'
  | 'rate_limit';

/**
 * What a replica did on its own instead of through the shared store: solveOnce solved locally
 * because the store was degraded, a store command failed while claiming or waiting, the caller's
 * deadline ended its wait, or the wait passed its bound; or (rate_limit) a request was counted
 * against this replica's own rate limit because Redis could not count it.
 */
export type FallbackReason = 'degraded' | 'store_error' | 'aborted' | 'wait_bound' | 'rate_limit';

export interface StoreMetricsSink {
  /** A read found the plan (this process's LRU, or the shared store). */
  hit(cache: StoreCache): void;
  /** A read found nothing anywhere. */
  miss(cache: StoreCache): void;
  /** This process's LRU let an entry go (size or TTL). */
  evicted(cache: StoreCache): void;
  /** A store command failed (timed out, refused, or answered an error). */
  storeError(operation: StoreOperation): void;
  /** Work done in this replica instead of through the shared store. */
  fallback(reason: FallbackReason): void;
  /** A solveOnce call found another process's lease and waited for its plan. */
  leaseWait(): void;
  /** A waiting solveOnce call took the lease after its owner let it go or died. */
  leaseTakeover(): void;
}

/** The sink of a store given none: counts nothing. */
export const NO_STORE_METRICS: StoreMetricsSink = Object.freeze({
  hit: () => undefined,
  miss: () => undefined,
  evicted: () => undefined,
  storeError: () => undefined,
  fallback: () => undefined,
  leaseWait: () => undefined,
  leaseTakeover: () => undefined,
});

export interface ReadCounts {
  /** Counts a hit when `entry` is there (peek: a caller that misses looks further, and counts then). */
  found(cache: StoreCache, entry: PlanEntry | undefined): PlanEntry | undefined;
  /** Counts a hit, or a miss. */
  counted(cache: StoreCache, entry: PlanEntry | undefined): PlanEntry | undefined;
}

/**
 * How both stores count reads: a hit wherever the plan was found (this process, or the shared
 * store), a miss only where nothing looks further, so a route that peeks and then gets counts once.
 */
export function readCounts(metrics: StoreMetricsSink): ReadCounts {
  const found: ReadCounts['found'] = (cache, entry) => {
    if (entry) metrics.hit(cache);
    return entry;
  };
  return {
    found,
    counted(cache, entry) {
      if (!entry) metrics.miss(cache);
      return found(cache, entry);
    },
  };
}
