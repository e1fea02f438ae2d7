/**
 * From a normalised plan request to a stored plan: content id, the plan store (and its
 * single-flight solveOnce for identical requests in flight), admission, solving through the runner.
 */
import { HplbError } from '../errors.ts';
import type { LayerRunner } from '../planner/layer-task.ts';
import type { NormalisedRequest, PlanRequest, PlanningContext, ResolvedRequest } from '../planner/request.ts';
import { resolveMigration, type PreviousPlan, type ResolvedMigration } from '../planner/migration.ts';
import { solveReplan } from '../planner/replan-plan.ts';
import { solvePlan } from '../planner/solve-plan.ts';
import { createPlanEntry, previousOf, type PlanEntry } from '../store/plan-entry.ts';
import { createInFlight } from '../store/in-flight.ts';
import type { PlanStore } from '../store/plan-store.ts';
import type { Admission } from './admission.ts';
import type { components } from '../api-types.ts';
import type { Metrics } from './metrics.ts';

export interface PlanServiceDeps {
  readonly runner: LayerRunner;
  readonly context: PlanningContext;
  readonly store: PlanStore;
  readonly admission: Admission;
  readonly metrics: Metrics;
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
  /**
   * The plan of a request `normalise` gives (on the event loop or in a body worker): from the
   * store, from an identical solve in flight, or solved now. The time limit counts from this call.
   * Identical lookups (`lookupKey`) in flight share one normalisation and one answer.
   */
  plan(normalise: () => Promise<NormalisedRequest>, lookupKey?: string): Promise<PlanOutcome>;
}

export function createPlanService(deps: PlanServiceDeps): PlanService {
  const { store, metrics } = deps;
  // A burst of one lookup must not queue copies of its normalisation for the body workers (503
  // past MAX_QUEUED_BODIES) while it solves.
  const lookups = createInFlight<PlanOutcome>();

  async function solveNormalised(normalise: () => Promise<NormalisedRequest>, lookupKey?: string) {
    // The time limit counts from here: normalising and waiting for admission use it up too.
    const arrived = deps.now();
    const { request, resolved: fresh, clampedTo } = await normalise();
    const migration = await migrationOf(deps, request, fresh);
    const resolved = migration ? { ...fresh, id: migration.id } : fresh;
    const clamp = clampedTo !== undefined ? { clampedTo } : {};

    const stored = await store.get(resolved.id);
    if (stored) {
      if (lookupKey !== undefined) await store.set(stored, lookupKey);
      return { entry: stored, created: false, ...clamp };
    }
    if (deps.draining()) {
      metrics.rejected.inc({ reason: 'draining' });
      throw new HplbError(
        'DRAINING',
        'the service is shutting down and starts no new solves; retry on another instance',
      );
    }
    try {
      const deadline = deadlineOf(deps, resolved, arrived);
      const joined = () => metrics.coalesced.inc();
      // A wait for another replica's solve ends at the deadline too; this request then solves
      // itself at once, as a solve whose time ran out does (what its workers have, else greedy).
      const { entry } = await store.solveOnce(
        resolved.id,
        () => solve(deps, fresh, resolved, migration, arrived, deadline),
        { joined, signal: deadline },
      );
      // solveOnce has stored the plan by id; a lookup maps its key to it.
      if (lookupKey !== undefined) await store.set(entry, lookupKey);
      return { entry, created: true, ...clamp };
    } catch (error) {
      if (error instanceof HplbError && error.code === 'QUEUE_FULL') metrics.rejected.inc({ reason: 'queue_full' });
      throw error;
    }
  }

  return {
    plan(normalise, lookupKey) {
      if (lookupKey === undefined) return solveNormalised(normalise);
      const { promise, joined } = lookups(lookupKey, () => solveNormalised(normalise, lookupKey));
      if (joined) metrics.coalesced.inc();
      return promise;
    },
  };
}

/** Aborts at a request's deadline: its arrival, its time limit and the runner's grace. */
function deadlineOf(deps: PlanServiceDeps, resolved: ResolvedRequest, arrived: number): AbortSignal {
  const limit = resolved.solver.timeLimitMs;
  const cutAt = arrived + limit + (deps.runner.planGraceMs?.(limit) ?? 0);
  return AbortSignal.timeout(Math.max(0, Math.ceil(cutAt - deps.now())));
}

/** Admission, then the plan (or re-plan) through the runner, counted and stored as an entry. */
function solve(
  deps: PlanServiceDeps,
  fresh: ResolvedRequest,
  resolved: ResolvedRequest,
  migration: ResolvedMigration | null,
  arrived: number,
  deadline: AbortSignal,
): Promise<PlanEntry> {
  const engine = resolved.solver.engine;
  // Waiting for admission past the plan's deadline: it runs at once, and solvePlan answers it with greedy.
  return deps.admission.run(async () => {
    const start = deps.now();
    try {
      const solved = migration
        ? await solveReplan(fresh, migration, deps.runner, { now: deps.now, startedAt: arrived })
        : await solvePlan(resolved, deps.runner, { now: deps.now, startedAt: arrived });
      const proven = solved.totals.layersProvenOptimal === solved.layers.length;
      deps.metrics.solves.inc({ engine, status: proven ? 'proven' : 'unproven' });
      for (const layer of solved.layers) deps.metrics.layers.inc({ engine: layer.engine, status: layer.status });
      // The planner's Plan must be what openapi.yaml promises: the type check fails when they drift.
      return createPlanEntry(solved satisfies components['schemas']['Plan']);
    } catch (error) {
      deps.metrics.solves.inc({ engine, status: 'failed' });
      throw error;
    } finally {
      deps.metrics.solveDuration.observe({ engine }, (deps.now() - start) / 1000);
    }
  }, deadline);
}

/** The re-plan part of a request, with a previous plan id looked up in the plan store. */
async function migrationOf(
  deps: PlanServiceDeps,
  request: PlanRequest,
  fresh: ResolvedRequest,
): Promise<ResolvedMigration | null> {
  const previous = request.previous;
  // (The schema refuses migration options without a previous placement.)
  if (previous === undefined) return null;
  let previousPlan: PreviousPlan | undefined;
  if (previous.planId !== undefined) {
    const stored = await deps.store.get(previous.planId);
    previousPlan = stored && previousOf(stored);
    if (!previousPlan)
      throw new HplbError(
        'PLAN_NOT_FOUND',
        `no stored plan with id ${previous.planId} to re-plan from; send its unit2gpu instead`,
        { pointer: '/previous/planId', rule: 'stored' },
      );
  }
  return resolveMigration({ ...request, previous }, fresh, deps.context, previousPlan);
}
