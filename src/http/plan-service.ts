/**
 * From a validated plan request to a stored plan: limits (problem size, time limits), content
 * id, cache, coalescing of identical requests in flight, admission, solving through the runner.
 */
import { HplbError } from '../errors.ts';
import type { Config } from '../config.ts';
import type { LayerRunner } from '../planner/layer-task.ts';
import { DEFAULT_SOLVER_OPTIONS, resolveRequest, type PlanRequest, type PlanningContext } from '../planner/request.ts';
import { resolveMigration, type ResolvedMigration } from '../planner/migration.ts';
import { solveReplan } from '../planner/replan-plan.ts';
import { solvePlan } from '../planner/solve-plan.ts';
import type { Profile } from '../profiles/profile.ts';
import { checkProfileRules } from '../profiles/registry.ts';
import type { Admission } from './admission.ts';
import type { Metrics } from './metrics.ts';
import { createPlanEntry, type PlanCache, type PlanEntry } from './plan-cache.ts';

export interface PlanServiceDeps {
  readonly runner: LayerRunner;
  readonly context: PlanningContext;
  readonly cache: PlanCache;
  readonly admission: Admission;
  readonly metrics: Metrics;
  readonly config: Pick<Config, 'maxProblemSize' | 'maxTimeLimitMs' | 'defaultTimeLimitMs'>;
  /** Monotonic clock, ms, for solve timing. */
  readonly now: () => number;
  /** Whether the service is shutting down: no new solves start then. */
  readonly draining: () => boolean;
}

export interface PlanOutcome {
  readonly entry: PlanEntry;
  /** true when this request caused the solve (alone, or with identical requests that joined it). */
  readonly created: boolean;
  /** The time limit used, ms, when a requested limit was above the configured maximum. */
  readonly clampedTo?: number;
}

export interface PlanService {
  /** The plan for a request: from the cache, from an identical solve in flight, or solved now. */
  plan(request: PlanRequest, lookupKey?: string): Promise<PlanOutcome>;
}

export function createPlanService(deps: PlanServiceDeps): PlanService {
  const { cache, metrics, config } = deps;
  const inFlight = new Map<string, Promise<PlanEntry>>();

  async function plan(raw: PlanRequest, lookupKey?: string): Promise<PlanOutcome> {
    const { request, clampedTo } = withTimeLimits(raw, config);
    const inline = request.profile !== undefined ? checkInlineProfile(request.profile) : undefined;
    checkProblemSize(request, deps.context, config.maxProblemSize);
    const fresh = resolveRequest(inline ? { ...request, profile: inline } : request, deps.context);
    const migration = migrationOf(request, fresh);
    const resolved = migration ? { ...fresh, id: migration.id } : fresh;
    const clamp = clampedTo !== undefined ? { clampedTo } : {};

    const stored = cache.getById(resolved.id);
    if (stored) {
      if (lookupKey !== undefined) cache.set(stored, lookupKey);
      return { entry: stored, created: false, ...clamp };
    }
    const running = inFlight.get(resolved.id);
    if (running) {
      metrics.coalesced.inc();
      const entry = await running;
      if (lookupKey !== undefined) cache.set(entry, lookupKey);
      return { entry, created: true, ...clamp };
    }
    if (deps.draining()) {
      metrics.rejected.inc({ reason: 'draining' });
      throw new HplbError('DRAINING', 'the service is shutting down and starts no new solves; retry on another instance');
    }
    const engine = resolved.solver.engine;
    const solve = deps.admission.run(async () => {
      const start = deps.now();
      try {
        const solved = migration
          ? await solveReplan(fresh, migration, deps.runner, { now: deps.now })
          : await solvePlan(resolved, deps.runner, { now: deps.now });
        const proven = solved.totals.layersProvenOptimal === solved.layers.length;
        metrics.solves.inc({ engine, status: proven ? 'proven' : 'unproven' });
        for (const layer of solved.layers) metrics.layers.inc({ engine: layer.engine, status: layer.status });
        return createPlanEntry(solved);
      } catch (error) {
        metrics.solves.inc({ engine, status: 'failed' });
        throw error;
      } finally {
        metrics.solveDuration.observe({ engine }, (deps.now() - start) / 1000);
      }
    });
    inFlight.set(resolved.id, solve);
    try {
      const entry = await solve;
      cache.set(entry, lookupKey);
      return { entry, created: true, ...clamp };
    } catch (error) {
      if (error instanceof HplbError && error.code === 'QUEUE_FULL') metrics.rejected.inc({ reason: 'queue_full' });
      throw error;
    } finally {
      inFlight.delete(resolved.id);
    }
  }

  /** The re-plan part of a request, with a previous plan id looked up in the plan store. */
  function migrationOf(request: PlanRequest, fresh: ReturnType<typeof resolveRequest>): ResolvedMigration | null {
    const previous = request.previous;
    if (previous === undefined) {
      if (request.migration !== undefined) throw new HplbError('INVALID_PROBLEM', 'migration options need a previous placement', { pointer: '/migration', rule: 'dependentRequired' });
      return null;
    }
    let previousPlan;
    if (previous.planId !== undefined) {
      previousPlan = cache.getById(previous.planId)?.plan;
      if (!previousPlan) throw new HplbError('PLAN_NOT_FOUND', `no stored plan with id ${previous.planId} to re-plan from; send its unit2gpu instead`, { pointer: '/previous/planId', rule: 'stored' });
    }
    return resolveMigration({ ...request, previous }, fresh, deps.context, previousPlan);
  }

  return { plan };
}

/** Fills in the time limits and clamps them to the configured maximum. */
function withTimeLimits(request: PlanRequest, config: PlanServiceDeps['config']): { request: PlanRequest; clampedTo?: number } {
  const timeLimitMs = request.solver?.timeLimitMs ?? config.defaultTimeLimitMs;
  const layerTimeLimitMs = request.solver?.layerTimeLimitMs ?? DEFAULT_SOLVER_OPTIONS.layerTimeLimitMs;
  const max = config.maxTimeLimitMs;
  const solver = { ...request.solver, timeLimitMs: Math.min(timeLimitMs, max), layerTimeLimitMs: Math.min(layerTimeLimitMs, max) };
  const clamped = timeLimitMs > max || layerTimeLimitMs > max;
  return { request: { ...request, solver }, ...(clamped ? { clampedTo: max } : {}) };
}

/**
 * Runs the profile checks a schema cannot (shape against architecture, version), with pointers
 * into the body; the body validator already checked the profile against its schema.
 */
function checkInlineProfile(profile: Profile): Profile {
  try {
    return checkProfileRules(profile, 'profile');
  } catch (error) {
    if (error instanceof HplbError && error.pointer !== undefined) {
      throw new HplbError(error.code, error.message, { pointer: `/profile${error.pointer}`, rule: error.rule ?? 'profile' });
    }
    throw error;
  }
}

/**
 * Refuses problems whose units x GPUs x layers exceeds the limit, before any per-layer work is
 * built (a huge GPU count would otherwise allocate first and fail later).
 */
function checkProblemSize(request: PlanRequest, context: PlanningContext, limit: number): void {
  let layers = 0;
  let heads = 0;
  let groupSize = 1;
  const profile = request.model !== undefined ? context.resolveProfile(request.model) : request.profile;
  if (profile) {
    layers = profile.architecture.layers;
    heads = profile.architecture.queryHeads;
    groupSize = Math.max(1, Math.floor(heads / profile.architecture.kvHeads));
  } else if (request.costs) {
    layers = request.costs.length;
    for (const row of request.costs) heads = Math.max(heads, row.length);
    groupSize = request.kvGroupSize ?? 1;
  }
  const units = request.granularity === 'kv-group' ? Math.ceil(heads / groupSize) : heads;
  const size = units * request.gpus.count * layers;
  if (size > limit) {
    throw new HplbError(
      'PROBLEM_TOO_LARGE',
      `units x GPUs x layers = ${units} x ${request.gpus.count} x ${layers} = ${size} exceeds MAX_PROBLEM_SIZE ${limit}`,
      { pointer: '/gpus/count', rule: 'maxProblemSize' },
    );
  }
}
