/**
 * Plans kept in memory, ready to send: each entry holds the plan, its JSON body and its ETag,
 * computed once when the plan is stored, so a cached answer costs a map lookup and a write.
 * Two LRU caches share the entries: plans by id (GET /v1/plans/{id}) and per-model lookups by a
 * key made from the normalised query (GET /v1/models/{modelId}/plan).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Plan } from '../planner/plan.ts';
import type { components } from './api-types.ts';
import type { Metrics } from './metrics.ts';

export interface PlanEntry {
  readonly plan: Plan;
  /** JSON text of the plan, UTF-8 encoded once, exactly as sent. */
  readonly body: Buffer;
  /** Strong ETag (quoted) of `body`. */
  readonly etag: string;
}

export interface PlanCacheOptions {
  readonly maxEntries: number;
  /** Time to live of an entry, ms. */
  readonly ttlMs: number;
  readonly metrics?: Metrics;
  /** Clock for TTLs (lru-cache's `perf`): tests inject one. */
  readonly now?: () => number;
}

export interface PlanCache {
  getById(id: string): PlanEntry | undefined;
  getByLookup(key: string): PlanEntry | undefined;
  /** Stores the entry by its plan id, and under `lookupKey` when given. */
  set(entry: PlanEntry, lookupKey?: string): void;
}

type CacheName = 'plans' | 'lookups';

export function createPlanCache(options: PlanCacheOptions): PlanCache {
  const { metrics } = options;
  const make = (name: CacheName): LRUCache<string, PlanEntry> =>
    new LRUCache<string, PlanEntry>({
      max: options.maxEntries,
      ttl: options.ttlMs,
      // An expired entry is a miss, never served stale.
      allowStale: false,
      // Read the clock on every check (cheap) rather than caching it for 1 ms behind a timer.
      ttlResolution: 0,
      ...(options.now ? { perf: { now: options.now } } : {}),
      dispose: (_value, _key, reason) => {
        if (reason === 'evict' || reason === 'expire') metrics?.cacheEvictions.inc({ cache: name });
      },
    });
  const plans = make('plans');
  const lookups = make('lookups');
  const counted = (name: CacheName, cache: LRUCache<string, PlanEntry>) => (key: string): PlanEntry | undefined => {
    const entry = cache.get(key);
    if (entry) metrics?.cacheHits.inc({ cache: name });
    else metrics?.cacheMisses.inc({ cache: name });
    return entry;
  };
  return {
    getById: counted('plans', plans),
    getByLookup: counted('lookups', lookups),
    set(entry, lookupKey) {
      plans.set(entry.plan.id, entry);
      if (lookupKey !== undefined) lookups.set(lookupKey, entry);
    },
  };
}

/** The entry for a plan: its body and a strong ETag over the body. */
export function createPlanEntry(plan: Plan): PlanEntry {
  // The planner's Plan must be what openapi.yaml promises: the type check fails when they drift.
  const wire: components['schemas']['Plan'] = plan;
  const body = Buffer.from(JSON.stringify(wire), 'utf8');
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { plan, body, etag };
}

/** A per-model lookup query, normalised: every default filled in. */
export interface LookupQuery {
  readonly modelId: string;
  /** The profile version the registry holds for modelId. */
  readonly modelVersion: string;
  readonly gpus: number;
  readonly granularity: string;
  readonly unitsPerGpu: string;
  readonly seqLen: number;
  readonly phase: string;
  readonly engine: string;
  readonly costModel: string;
  /** A re-plan's previous plan id and makespan tolerance; absent or null for a fresh plan. */
  readonly previous?: string | null;
  readonly makespanTolerance?: number | null;
  /** Most heads per layer split by query rows; absent or 0 for none. */
  readonly splitHeads?: number;
}

/** The cache key of a lookup: equal normalised queries give equal keys, and nothing else does. */
export function lookupKey(q: LookupQuery): string {
  // JSON of a fixed-order tuple: no field value can fake a separator.
  return JSON.stringify([q.modelId, q.modelVersion, q.gpus, q.granularity, q.unitsPerGpu, q.seqLen, q.phase, q.engine, q.costModel, q.previous ?? null, q.makespanTolerance ?? null, q.splitHeads ?? 0]);
}

/** Whether an If-None-Match header matches a strong ETag (weak comparison, as RFC 9110 asks for GET). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return (t.startsWith('W/') ? t.slice(2) : t) === etag;
  });
}
