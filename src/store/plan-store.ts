/**
 * Where plans live: one contract, two stores. The memory store (the embedded default) is the
 * byte-bounded LRU of one process; the Redis store (REDIS_URL) shares plans, the per-model lookup
 * index and single-flight solving between replicas, with a local LRU in front of Redis so that hot
 * lookups stay off the network. Plan ids are content-addressed (a hash of the normalised request,
 * profile version and engine version): the body stored under an id never changes, so a local copy
 * can never be stale, only missing.
 */
import type { PlanEntry } from './plan-entry.ts';

/** How the store is doing: `degraded` while a shared store cannot be reached (answers go on locally). */
export type StoreState = 'ok' | 'degraded';

export interface SolveOnceOptions {
  /** Aborted when the request's deadline passes: a waiter stops waiting and solves itself. */
  readonly signal?: AbortSignal;
  /** Called as soon as this call waits for another call's (or replica's) solve rather than solving (hplb_plan_coalesced_total). */
  readonly joined?: () => void;
}

export interface SolveOnceOutcome {
  readonly entry: PlanEntry;
  /** true when `solve` ran in this process for this call; false when another call's (or replica's) solve answered. */
  readonly solvedHere: boolean;
}

export interface PlanStore {
  /** "memory" or "redis": what /readyz and /metrics name. */
  readonly kind: 'memory' | 'redis';
  /** The entry if this process holds it now (the local LRU): no I/O, for the hot path. */
  peek(id: string): PlanEntry | undefined;
  /** The entry a lookup key maps to, if this process holds both now. */
  peekLookup(key: string): PlanEntry | undefined;
  /**
   * The entry from the local LRU, else the shared store (kept locally afterwards). Never rejects:
   * a store fault is a miss, counted, and the store reports degraded until it answers again.
   */
  get(id: string): Promise<PlanEntry | undefined>;
  /** The same for a per-model lookup key (lookup key -> plan id -> entry). */
  getByLookup(key: string): Promise<PlanEntry | undefined>;
  /** Stores the entry by id (and the lookup key's mapping when given), locally and shared. Never rejects. */
  set(entry: PlanEntry, lookupKey?: string): Promise<void>;
  /**
   * Runs `solve` for `id` at most once at a time across every process sharing the store: the
   * first caller solves, later callers (here or on other replicas) wait for its entry. A waiter
   * whose owner dies, whose wait outlives the lease, or whose signal aborts solves itself.
   */
  solveOnce(id: string, solve: () => Promise<PlanEntry>, options?: SolveOnceOptions): Promise<SolveOnceOutcome>;
  /** ok, or degraded while the shared store is unreachable. */
  state(): StoreState;
  /** Calls `listener` at each change between ok and degraded; returns the function that stops it. */
  onState(listener: (state: StoreState) => void): () => void;
  /** Bytes held locally, per cache (for hplb_cache_bytes). */
  bytes(): { readonly plans: number; readonly lookups: number };
  /** Releases connections and timers. */
  close(): Promise<void>;
}
