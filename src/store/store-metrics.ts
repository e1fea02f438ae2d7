/**
 * What a shared store reports about itself, through a sink the app supplies (prom-client
 * counters on /metrics); the store never imports prom-client, and tests pass a recorder.
 */

/** The Redis operations that can fail; a failed one is a miss (reads) or a dropped write. */
export type StoreOperation = 'get' | 'get_lookup' | 'set' | 'claim' | 'renew' | 'release' | 'subscribe' | 'decode';

/**
 * Why solveOnce solved in this process without the shared lease: the store was degraded, a
 * store command failed while claiming or waiting, the caller's signal aborted its wait, or the
 * wait passed its bound.
 */
export type FallbackReason = 'degraded' | 'store_error' | 'aborted' | 'wait_bound';

export interface StoreMetricsSink {
  /** A store command failed (timed out, refused, or answered an error). */
  storeError(operation: StoreOperation): void;
  /** solveOnce solved locally instead of under the shared lease. */
  fallback(reason: FallbackReason): void;
  /** A solveOnce call found another process's lease and waited for its plan. */
  leaseWait(): void;
  /** A waiting solveOnce call took the lease after its owner let it go or died. */
  leaseTakeover(): void;
}

/** The sink of a store given none: counts nothing. */
export const NO_STORE_METRICS: StoreMetricsSink = Object.freeze({
  storeError: () => undefined,
  fallback: () => undefined,
  leaseWait: () => undefined,
  leaseTakeover: () => undefined,
});
