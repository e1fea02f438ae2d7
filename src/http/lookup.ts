/**
 * The per-model lookup GET /v1/models/{modelId}/plan, as data: one table row per query parameter
 * says its default, where it goes in the implied plan request body, and so which query parameter a
 * problem with a body pointer came from. The normalised query is the lookup's cache key; validated
 * URLs are memoised with it.
 */
import { LRUCache } from 'lru-cache';
import { DEFAULT_WORKLOAD } from '../cost/cost-model.ts';
import { DEFAULT_TIME_COST_MODEL } from '../cost/roofline.ts';
import { HplbError } from '../errors.ts';
import { DEFAULT_MAKESPAN_TOLERANCE } from '../planner/migration.ts';
import { ENGINE_VERSION } from '../planner/plan.ts';
import { parseKvFactor, parseMix } from '../planner/query-forms.ts';
import { DEFAULT_MAX_KV_CACHE_FACTOR, type PlanRequest } from '../planner/request.ts';
import type { WorkloadPhase } from '../planner/workload-request.ts';
import { ENTRY_OVERHEAD_BYTES } from '../store/local-plans.ts';
import type { operations } from '../api-types.ts';

/** The lookup's query parameters as validated (strings coerced to their types). */
export type LookupParams = NonNullable<operations['getModelPlan']['parameters']['query']>;
type Value = string | number | null | readonly WorkloadPhase[];

interface LookupParam {
  readonly name: keyof LookupParams;
  /** Where the value goes in the implied PlanRequest (a JSON pointer); null and 0 are left out unless `keepNull`. */
  readonly body: string;
  /** The value when the parameter is absent (`defaults` gives what the service decides). */
  readonly fallback: (params: LookupParams, defaults: { readonly costModel: string }) => Value;
  /** The value of a text form (query-forms.ts, shared with the CLI). */
  readonly parse?: (text: string) => Value;
  /** null is a value of its own (no cap), written into the request. */
  readonly keepNull?: true;
}

/** A mix replaces seqLen and phase; decode and mixes are priced in time (a roofline) unless named. */
const mixed = (p: LookupParams): boolean => p.mix !== undefined;
const timed = (p: LookupParams): boolean => mixed(p) || p.phase === 'decode';

/** Every lookup parameter but the model id, in cache-key order. */
const PARAMS: readonly LookupParam[] = [
  { name: 'gpus', body: '/gpus/count', fallback: () => null },
  { name: 'granularity', body: '/granularity', fallback: () => 'query-head' },
  { name: 'unitsPerGpu', body: '/constraints/unitsPerGpu', fallback: () => 'equal' },
  { name: 'seqLen', body: '/workload/seqLen', fallback: (p) => (mixed(p) ? null : DEFAULT_WORKLOAD.seqLen) },
  { name: 'phase', body: '/workload/phase', fallback: (p) => (mixed(p) ? null : DEFAULT_WORKLOAD.phase) },
  { name: 'mix', body: '/workload/mix', fallback: () => null, parse: parseMix },
  { name: 'engine', body: '/solver/engine', fallback: () => 'auto' },
  {
    name: 'costModel',
    body: '/costModel',
    fallback: (p, defaults) => (timed(p) ? DEFAULT_TIME_COST_MODEL : defaults.costModel),
  },
  {
    name: 'maxKvCacheFactor',
    body: '/constraints/maxKvCacheFactor',
    fallback: () => DEFAULT_MAX_KV_CACHE_FACTOR,
    parse: parseKvFactor,
    keepNull: true,
  },
  { name: 'maxKvGroupsPerGpu', body: '/constraints/maxKvGroupsPerGpu', fallback: () => null },
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
  if (mixed(params) && (params.seqLen !== undefined || params.phase !== undefined)) {
    throw new HplbError('INVALID_PROBLEM', 'mix replaces seqLen and phase: give one or the other', {
      pointer: '/mix',
      rule: 'oneOf',
    });
  }
  if (params.makespanTolerance !== undefined && params.previous === undefined) {
    const message = 'makespanTolerance applies to a re-plan: give previous=<planId> too';
    throw new HplbError('INVALID_PROBLEM', message, { pointer: '/makespanTolerance', rule: 'dependentRequired' });
  }
  const values = Object.fromEntries(PARAMS.map((p) => [p.name, paramValue(p, params, defaults)]));
  const query = { modelId, modelVersion, values };
  return { query, key: lookupKey(query) };
}

function paramValue(param: LookupParam, params: LookupParams, defaults: { readonly costModel: string }): Value {
  const given = params[param.name];
  if (given === undefined) return param.fallback(params, defaults);
  if (!param.parse) return given as Value;
  try {
    return param.parse(String(given));
  } catch (error) {
    // The text form's problem names the body field: point it at this query parameter.
    if (!(error instanceof HplbError)) throw error;
    throw new HplbError(error.code, error.message, { pointer: `/${param.name}`, rule: error.rule });
  }
}

/** The cache key of a lookup: equal normalised queries (and engine versions, as in plan ids) give equal keys. */
export function lookupKey(query: LookupQuery): string {
  // JSON of a fixed-order tuple: no field value can fake a separator. With the engine version, replicas
  // of two versions sharing one Redis during a rolling deploy never answer each other's lookups.
  const values = PARAMS.map((p) => query.values[p.name] ?? null);
  return JSON.stringify([ENGINE_VERSION, query.modelId, query.modelVersion, ...values]);
}

/** The plan request a lookup stands for. */
export function lookupRequest(query: LookupQuery): PlanRequest {
  const body: Record<string, unknown> = { model: query.modelId };
  for (const { name, body: pointer, keepNull } of PARAMS) {
    const value = query.values[name];
    if ((value === null && !keepNull) || value === 0) continue;
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
  const param = PARAMS.find((p) => p.body === bodyPointer || bodyPointer.startsWith(`${p.body}/`));
  return param && `/${param.name}`;
}

/** A problem raised for the lookup's implied body, pointed at the query parameter it came from. */
export function asQueryError(error: unknown): never {
  if (!(error instanceof HplbError) || error.pointer === undefined) throw error;
  const pointer = queryPointerOf(error.pointer);
  if (pointer === undefined) throw new HplbError(error.code, error.message, { rule: error.rule });
  throw Object.assign(new HplbError(error.code, error.message, { pointer, rule: error.rule }), { in: 'query' });
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
