/**
 * Plans kept in memory, ready to send: each entry holds the plan, its JSON body and its ETag,
 * computed once when the plan is stored, so a cached answer costs a map lookup and a write.
 * Plans are kept by id (GET /v1/plans/{id}), bounded by bytes; per-model lookups (GET
 * /v1/models/{modelId}/plan) map a key made from the normalised query to a plan id.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { PreviousPlan } from '../planner/migration.ts';
import type { WorkloadPhase } from '../planner/workload-request.ts';
import type { Plan } from '../planner/plan.ts';
import type { components } from '../api-types.ts';
import type { Metrics } from './metrics.ts';
import type { PlanEntry, PlanFacts } from '../store/plan-entry.ts';

export type { PlanEntry, PlanFacts } from '../store/plan-entry.ts';

export interface PlanCacheOptions {
  readonly maxEntries: number;
  /** Most bytes of plan bodies held (lru-cache maxSize); the least recently used plans go first. */
  readonly maxBytes: number;
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
  /** Bytes held now, per cache. */
  bytes(): { readonly plans: number; readonly lookups: number };
}

/** What an entry costs besides its body: the id, the ETag, the object and the LRU's bookkeeping. */
const ENTRY_OVERHEAD_BYTES = 512;

/**
 * Plans by id, bounded by the bytes of their bodies; lookups map a lookup key to a plan id only, so
 * a plan's bytes are held (and counted) once. A lookup whose plan was evicted is a miss.
 */
export function createPlanCache(options: PlanCacheOptions): PlanCache {
  const { metrics } = options;
  const common = {
    max: options.maxEntries,
    ttl: options.ttlMs,
    // An expired entry is a miss, never served stale.
    allowStale: false,
    // Read the clock on every check (cheap) rather than caching it for 1 ms behind a timer.
    ttlResolution: 0,
    ...(options.now ? { perf: { now: options.now } } : {}),
  } as const;
  const evicted =
    (name: 'plans' | 'lookups') =>
    (_value: unknown, _key: string, reason: LRUCache.DisposeReason): void => {
      if (reason === 'evict' || reason === 'expire') metrics?.cacheEvictions.inc({ cache: name });
    };
  const plans = new LRUCache<string, PlanEntry>({
    ...common,
    maxSize: options.maxBytes,
    sizeCalculation: (entry) => entry.body.length + entry.unit2gpu.byteLength + ENTRY_OVERHEAD_BYTES,
    dispose: evicted('plans'),
  });
  const lookups = new LRUCache<string, string>({
    ...common,
    // Keys and ids are short: the entry bound alone keeps this small (512 x ~300 bytes by default).
    dispose: evicted('lookups'),
  });
  const count = (name: 'plans' | 'lookups', entry: PlanEntry | undefined): PlanEntry | undefined => {
    if (entry) metrics?.cacheHits.inc({ cache: name });
    else metrics?.cacheMisses.inc({ cache: name });
    return entry;
  };
  return {
    getById: (id) => count('plans', plans.get(id)),
    getByLookup(key) {
      const id = lookups.get(key);
      return count('lookups', id === undefined ? undefined : plans.get(id));
    },
    set(entry, lookupKey) {
      plans.set(entry.id, entry);
      if (lookupKey !== undefined) lookups.set(lookupKey, entry.id);
    },
    bytes: () => ({ plans: plans.calculatedSize, lookups: lookups.size * ENTRY_OVERHEAD_BYTES }),
  };
}

/** What a re-plan reads of a stored plan, from the entry's facts and placement (its body is not parsed). */
export function previousOf(entry: PlanEntry): PreviousPlan {
  const { modelId, granularity, layers, units } = entry.facts;
  return {
    id: entry.id,
    model: { id: modelId },
    granularity,
    layers: Array.from({ length: layers }, (_, l) => ({
      unit2gpu: Array.from(entry.unit2gpu.subarray(l * units, (l + 1) * units)),
    })),
  };
}

/** Bytes of JSON serialised between two yields to the event loop. */
const SERIALISE_SLICE_BYTES = 256 * 1024;

/**
 * The entry for a plan: its body, a strong ETag over the body, its facts and placement. Layers are
 * serialised one at a time and the event loop gets a turn after every SERIALISE_SLICE_BYTES, so a
 * large plan does not hold up other requests (probes, cached answers) while it is written out.
 */
export async function createPlanEntry(plan: Plan): Promise<PlanEntry> {
  // The planner's Plan must be what openapi.yaml promises: the type check fails when they drift.
  const wire: components['schemas']['Plan'] = plan;
  const { layers, ...rest } = wire;
  const units = layers[0]?.unit2gpu.length ?? 0;
  const facts: PlanFacts = {
    modelId: plan.model.id,
    granularity: plan.granularity,
    layers: layers.length,
    units,
  };
  const unit2gpu = new Int32Array(layers.length * units);
  // Layers go last: everything before them is small and written in one piece.
  const head = JSON.stringify({ ...rest, layers: [] });
  const chunks: Buffer[] = [Buffer.from(head.slice(0, -2), 'utf8')];
  const hash = createHash('sha256').update(chunks[0]);
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = (): void => {
    const chunk = Buffer.from(pending.join(''), 'utf8');
    chunks.push(chunk);
    hash.update(chunk);
    pending = [];
    pendingBytes = 0;
  };
  for (let i = 0; i < layers.length; i++) {
    const row = layers[i].unit2gpu;
    if (row.length !== units) throw new Error(`plan ${plan.id}: layer ${i} has ${row.length} units, layer 0 ${units}`);
    unit2gpu.set(row, i * units);
    const text = (i === 0 ? '' : ',') + JSON.stringify(layers[i]);
    pending.push(text);
    pendingBytes += text.length;
    if (pendingBytes >= SERIALISE_SLICE_BYTES) {
      flush();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  pending.push(']}');
  flush();
  const body = Buffer.concat(chunks);
  const etag = `"${hash.digest('base64url').slice(0, 27)}"`;
  return { id: plan.id, body, etag, facts, unit2gpu };
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
  /** The KV-cache cap (null: none), the KV-group limit (null: none) and a workload mix (null: seqLen and phase). */
  readonly maxKvCacheFactor: number | null;
  readonly maxKvGroupsPerGpu: number | null;
  readonly mix: readonly WorkloadPhase[] | null;
}

/** A validated lookup URL's normalised query and cache key. */
export interface KnownLookup {
  readonly query: LookupQuery;
  readonly key: string;
}

/**
 * Validated lookup URLs with their normalised query and cache key, bounded by bytes (URL, query
 * and key as UTF-16 in the heap, plus bookkeeping): a repeated URL skips parsing, validation and
 * normalisation (pure in the URL: the registry does not change while the service runs).
 */
export function createLookupMemo(maxBytes: number, metrics?: Metrics): LRUCache<string, KnownLookup> {
  return new LRUCache<string, KnownLookup>({
    maxSize: maxBytes,
    sizeCalculation: (known, url) => 2 * (url.length + 2 * known.key.length) + ENTRY_OVERHEAD_BYTES,
    dispose: (_value, _key, reason) => {
      if (reason === 'evict') metrics?.cacheEvictions.inc({ cache: 'urls' });
    },
  });
}

/** The cache key of a lookup: equal normalised queries give equal keys, and nothing else does. */
export function lookupKey(q: LookupQuery): string {
  // JSON of a fixed-order tuple: no field value can fake a separator.
  return JSON.stringify([
    q.modelId,
    q.modelVersion,
    q.gpus,
    q.granularity,
    q.unitsPerGpu,
    q.seqLen,
    q.phase,
    q.engine,
    q.costModel,
    q.previous ?? null,
    q.makespanTolerance ?? null,
    q.splitHeads ?? 0,
    q.maxKvCacheFactor,
    q.maxKvGroupsPerGpu,
    q.mix?.map((p) => [p.phase, p.seqLen, p.weight]) ?? null,
  ]);
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
