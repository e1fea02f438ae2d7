/**
 * What the app is built from and what its route modules share (with the two lookups every route
 * by id makes), in a module of its own so that app.ts and the route modules both depend on it and
 * not on each other.
 */
import type { Express, RequestHandler } from 'express';
import type { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { CostModel } from '../cost/cost-model.ts';
import type { SolverPool } from '../pool/solver-pool.ts';
import type { NormalisedRequest, PlanningContext } from '../planner/request.ts';
import type { ModelRegistry } from '../profiles/registry.ts';
import type { PlanStore } from '../store/plan-store.ts';
import type { PlanEntry } from '../store/plan-entry.ts';
import type { Profile } from '../profiles/profile.ts';
import { unknownModel } from '../planner/planning-context.ts';
import { HplbError } from '../errors.ts';
import type { BodyPool } from './body-pool.ts';
import type { Guards } from './guards.ts';
import type { KnownLookup } from './lookup.ts';
import type { Metrics } from './metrics.ts';
import type { LoadedSpec } from '../contract/openapi.ts';
import type { PlanService } from './plan-service.ts';
import type { Validators } from '../contract/validation.ts';

/** The solver pool as the app sees it. */
export type SolverRunner = Pick<SolverPool, 'run' | 'concurrency' | 'planGraceMs' | 'queueDepth' | 'busy' | 'isReady'>;

export interface AppDeps {
  readonly config: Config;
  readonly runner: SolverRunner;
  readonly registry: ModelRegistry;
  readonly logger: Logger;
  /** Cost model by name (undefined: the default); the service passes a src/cost/registry.ts createCostModelResolver. */
  readonly resolveCostModel: (name?: string) => CostModel;
  /** Where plans live; by default the memory store sized by the configuration. */
  readonly store?: PlanStore;
  /** Monotonic clock, ms (solve timing, cache TTLs, rate-limit windows); performance.now by default. */
  readonly now?: () => number;
  /** The contract; openapi.yaml of the repository by default. */
  readonly spec?: LoadedSpec;
  /** Folder served at / when it exists; the repository's public/ by default, null for none. */
  readonly publicDir?: string | null;
  /** Where large bodies are parsed and normalised (config.bodyWorkerThresholdBytes); none: on the event loop. */
  readonly bodyPool?: BodyPool;
}

/** Where route modules register their routes (the app itself). */
export type Routes = Pick<Express, 'get' | 'post'>;

/** What route modules share. */
export interface RouteContext {
  readonly deps: AppDeps;
  /** A plan request body (parsed, or a RawJsonBody), normalised on the event loop or in a body worker. */
  readonly normalise: (body: unknown) => Promise<NormalisedRequest>;
  readonly validators: Validators;
  readonly spec: LoadedSpec;
  readonly service: PlanService;
  readonly store: PlanStore;
  readonly metrics: Metrics;
  readonly context: PlanningContext;
  /** Name of the default cost model, part of per-model lookup keys. */
  readonly defaultCostModel: string;
  readonly draining: () => boolean;
  /** API keys and the rate limit. */
  readonly guards: Guards;
  /** Validated per-model lookup URLs, bounded by bytes. */
  readonly lookupMemo: LRUCache<string, KnownLookup>;
  /** The JSON body reader of POST routes: large bodies left raw when a body pool is there. */
  readonly jsonBody: RequestHandler;
}

/** The registry model a path names; UNKNOWN_MODEL, pointing into the path, otherwise. */
export function modelInPath(ctx: RouteContext, modelId: string): Profile {
  const profile = ctx.deps.registry.get(modelId);
  if (!profile) throw Object.assign(unknownModel(ctx.deps.registry, modelId), { in: 'path' });
  return profile;
}

/** The stored plan a path names; PLAN_NOT_FOUND, pointing into the path, otherwise. */
export async function planInPath(ctx: RouteContext, planId: string): Promise<PlanEntry> {
  const entry = ctx.store.peek(planId) ?? (await ctx.store.get(planId));
  if (entry) return entry;
  const message = `no stored plan with id ${planId}; plans are kept for ${ctx.deps.config.cacheTtlMs} ms at most, POST the request again to recompute it`;
  throw Object.assign(new HplbError('PLAN_NOT_FOUND', message, { pointer: '/planId', rule: 'stored' }), { in: 'path' });
}
