/**
 * The per-model lookup GET /v1/models/{modelId}/plan, as data: one table row per query parameter
 * says its default, where it goes in the implied plan request body, and so which query parameter a
 * problem with a body pointer came from. The normalised query is the lookup's cache key; validated
 * URLs are memoised with it.
 */
import { LRUCache } from 'lru-cache';
import { DEFAULT_WORKLOAD } from '../cost/cost-model.ts';
import { DEFAULT_MAKESPAN_TOLERANCE } from '../planner/migration.ts';
import type { PlanRequest } from '../planner/request.ts';
import { ENTRY_OVERHEAD_BYTES } from '../store/local-plans.ts';
import type { operations } from './api-types.ts';

/** The lookup's query parameters as validated (strings coerced to their types). */
export type LookupParams = NonNullable<operations['getModelPlan']['parameters']['query']>;
type Value = string | number | null;

interface LookupParam {
  readonly name: keyof LookupParams;
  /** Where the value goes in the implied PlanRequest (a JSON pointer); null and 0 are left out. */
  readonly body: string;
  /** The value when the parameter is absent (`defaults` gives what the service decides). */
  readonly fallback: (params: LookupParams, defaults: { readonly costModel: string }) => Value;
}

/** Every lookup parameter but the model id, in cache-key order. */
const PARAMS: readonly LookupParam[] = [
  { name: 'gpus', body: '/gpus/count', fallback: () => null },
  { name: 'granularity', body: '/granularity', fallback: () => 'query-head' },
  { name: 'unitsPerGpu', body: '/constraints/unitsPerGpu', fallback: () => 'equal' },
  { name: 'seqLen', body: '/workload/seqLen', fallback: () => DEFAULT_WORKLOAD.seqLen },
  { name: 'phase', body: '/workload/phase', fallback: () => DEFAULT_WORKLOAD.phase },
  { name: 'engine', body: '/solver/engine', fallback: () => 'auto' },
  { name: 'costModel', body: '/costModel', fallback: (_p, defaults) => defaults.costModel },
  { name: 'previous', body: '/previous/planId', fallback: () => null },
  {
    name: 'makespanTolerance',
    body: '/migration/makespanTolerance',
    fallback: (p) => (p.previous !== undefined ? DEFAULT_MAKESPAN_TOLERANCE : null),
  },
  { name: 'splitHeads', body: '/constraints/splits/maxSplitHeads', fallback: () => 0 },
];

/** A lookup query, normalised: the model, its profile version, and every parameter with its default filled in. */
export interface LookupQuery {
  readonly modelId: string;
  readonly modelVersion: string;
  readonly values: Readonly<Record<string, Value>>;
}

/** A validated lookup URL's normalised query and cache key. */
export interface KnownLookup {
  readonly query: LookupQuery;
  readonly key: string;
}

export function normaliseLookup(
  modelId: string,
  modelVersion: string,
  params: LookupParams,
  defaults: { readonly costModel: string },
): KnownLookup {
  const values = Object.fromEntries(PARAMS.map((p) => [p.name, params[p.name] ?? p.fallback(params, defaults)]));
  const query = { modelId, modelVersion, values };
  return { query, key: lookupKey(query) };
}

/** The cache key of a lookup: equal normalised queries give equal keys, and nothing else does. */
export function lookupKey(query: LookupQuery): string {
  // JSON of a fixed-order tuple: no field value can fake a separator.
  return JSON.stringify([query.modelId, query.modelVersion, ...PARAMS.map((p) => query.values[p.name] ?? null)]);
}

/** The plan request a lookup stands for. */
export function lookupRequest(query: LookupQuery): PlanRequest {
  const body: Record<string, unknown> = { model: query.modelId };
  for (const { name, body: pointer } of PARAMS) {
    const value = query.values[name];
    if (value === null || value === 0) continue;
    const path = pointer.slice(1).split('/');
    let at = body;
    for (const key of path.slice(0, -1)) {
      at[key] ??= {};
      at = at[key] as Record<string, unknown>;
    }
    at[path[path.length - 1]] = value;
  }
  return body as unknown as PlanRequest;
}

/** The query parameter (as a pointer, /name) a problem at a body pointer of the implied request came from. */
export function queryPointerOf(bodyPointer: string): string | undefined {
  const param = PARAMS.find((p) => p.body === bodyPointer);
  return param && `/${param.name}`;
}

/**
 * Validated lookup URLs with their normalised query and cache key, bounded by bytes (URL and key
 * as UTF-16 in the heap, plus bookkeeping): a repeated URL skips parsing, validation and
 * normalisation (pure in the URL: the registry does not change while the service runs).
 */
export function createLookupMemo(maxBytes: number, onEvict?: () => void): LRUCache<string, KnownLookup> {
  return new LRUCache<string, KnownLookup>({
    maxSize: maxBytes,
    sizeCalculation: (known, url) => 2 * (url.length + 2 * known.key.length) + ENTRY_OVERHEAD_BYTES,
    dispose: (_value, _key, reason) => {
      if (reason === 'evict') onEvict?.();
    },
  });
}
