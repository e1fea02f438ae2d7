/**
 * A re-plan of a whole model: stage 1 is the fresh plan (the engines, on half the time budget),
 * stage 2 the least-move placement of each layer near it (GLPK in the runner's workers), then
 * hysteresis (minImprovement), the layer limit (maxLayers) and transfer rounds over the plan.
 * The time limit holds as in solvePlan: at startedAt + timeLimitMs (+ the runner's planGraceMs)
 * every layer whose stage 2 has not answered gets the heuristic re-plan (relabelling and swaps)
 * on this thread, a few milliseconds of them per turn of the event loop.
 */
import { HplbError } from '../errors.ts';
import {
  buildLayerResult,
  constraintViolation,
  makespanOf,
  relativeGap,
  statusForGap,
} from '../solver/layer-result.ts';
import { sum } from '../solver/problem.ts';
import { scheduleRounds } from '../solver/replan/moves.ts';
import { replanLayer, type ReplanOutcome } from '../solver/replan/replan-layer.ts';
import type { LayerProblem } from '../solver/types.ts';
import type { LayerRunner, LayerTask } from './layer-task.ts';
import type { ResolvedMigration } from './migration.ts';
import type { LayerMigration, Plan, PlanLayer } from './plan.ts';
import { withKvFields } from './plan-kv.ts';
import { planTotals } from './plan-totals.ts';
import type { ResolvedRequest } from './request.ts';
import { runEach, solvePlan, underDeadline, type PlanBudget, type SolvePlanOptions } from './solve-plan.ts';

/** Share of the plan's time budget the fresh plan (stage 1) may use. */
const FRESH_SHARE = 0.5;
const MIN_TASK_MS = 5;
/** Heuristic re-plans of cut layers run back to back for up to this long, then the event loop turns. */
const CUT_SLICE_MS = 5;

/** Solves a re-plan request: the plan is in the GPU labels of the previous placement. */
export async function solveReplan(
  resolved: ResolvedRequest,
  migration: ResolvedMigration,
  runner: LayerRunner,
  options: SolvePlanOptions = {},
): Promise<Plan> {
  return underDeadline(resolved.solver.timeLimitMs, runner, options, (budget) =>
    replanWithin(resolved, migration, runner, budget),
  );
}

async function replanWithin(
  resolved: ResolvedRequest,
  migration: ResolvedMigration,
  runner: LayerRunner,
  { now, start, deadline, signal }: PlanBudget,
): Promise<Plan> {
  const stage1 = {
    ...resolved,
    solver: { ...resolved.solver, timeLimitMs: resolved.solver.timeLimitMs * FRESH_SHARE },
  };
  const fresh = await solvePlan(stage1, runner, { now, startedAt: start, signal });

  const replans = new Array<ReplanOutcome>(resolved.layers.length);
  const yieldWhenDue = createSlicer(CUT_SLICE_MS);
  await runEach(
    resolved.layers.map((_, l) => l),
    runner.concurrency,
    async (l, rounds) => {
      const share = (deadline - now()) / rounds;
      const timeLimitMs = Math.max(MIN_TASK_MS, Math.min(resolved.solver.layerTimeLimitMs, share));
      const spec = migration.layers[l];
      const freshLayer = { unit2gpu: fresh.layers[l].unit2gpu, makespan: fresh.layers[l].makespan };
      const task: LayerTask = {
        problem: resolved.layers[l],
        engine: resolved.solver.engine,
        timeLimitMs,
        gapTolerance: resolved.solver.gapTolerance,
        migration: { spec, fresh: freshLayer },
      };
      // Unless it proves its answer (the previous placement already meets the target), say why.
      const heuristic = (why: string): ReplanOutcome => {
        const outcome = replanLayer(task.problem, spec, freshLayer, { glpk: null, timeLimitMs });
        return outcome.moveFallbackReason === undefined
          ? outcome
          : { ...outcome, moveFallbackReason: `${why}: relabelling and swaps only` };
      };
      if (signal.aborted) {
        await yieldWhenDue();
        replans[l] = heuristic('the plan reached its deadline before this layer was re-planned');
        return;
      }
      // A worker that crashed, overran or was cut answered with greedy: relabel and swap here instead.
      const outcome = await runMigrationTask(runner, task, signal);
      replans[l] =
        outcome ??
        heuristic(signal.aborted ? 'the plan reached its deadline during this layer' : 'its solver worker failed');
    },
  );

  const layers = fresh.layers.map((freshLayer, l) =>
    replannedLayer(resolved, resolved.layers[l], freshLayer, replans[l], migration),
  );
  applyLayerLimits(resolved, migration, layers);
  const transfers = layers.flatMap((layer) => layer.migration!.moves);
  const round = scheduleRounds(transfers);
  let i = 0;
  for (const layer of layers) layer.migration!.moves = layer.migration!.moves.map((m) => ({ ...m, round: round[i++] }));
  // In the running plan's GPU labels: no relabelling here.
  const final = layers.map((layer, l) => withKvFields(resolved, resolved.layers[l], layer));
  return {
    ...fresh,
    id: migration.id,
    solver: { ...fresh.solver, timeLimitMs: resolved.solver.timeLimitMs },
    layers: final,
    totals: planTotals(resolved, final, resolved.layers, now() - start),
    migration: migrationTotals(migration, final, round),
  };
}

/**
 * A function that, awaited before each piece of work, lets the event loop turn once `sliceMs`
 * of work has run since the last turn (on the real clock: an injected one may stand still).
 */
function createSlicer(sliceMs: number): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < sliceMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    sliceStart = performance.now();
  };
}

async function runMigrationTask(
  runner: LayerRunner,
  task: LayerTask,
  signal: AbortSignal,
): Promise<ReplanOutcome | null> {
  try {
    return (await runner.run(task, { signal })).replan ?? null;
  } catch (error) {
    if (error instanceof HplbError && error.code !== 'INTERNAL') throw error;
    return null;
  }
}

function replannedLayer(
  resolved: ResolvedRequest,
  problem: LayerProblem,
  fresh: PlanLayer,
  replan: ReplanOutcome,
  migration: ResolvedMigration,
): PlanLayer {
  const spec = migration.layers[problem.layer];
  const previousMakespan =
    constraintViolation(problem, spec.previous) === null ? makespanOf(problem, spec.previous) : null;
  // With a binding move limit the bound of the limited problem is the one that applies.
  const lowerBound = Math.max(fresh.lowerBound, replan.limitedMakespanBound ?? 0);
  const layer = layerOf(
    problem,
    replan.unit2gpu,
    lowerBound,
    resolved.solver.gapTolerance + spec.makespanTolerance,
    fresh,
  );
  return {
    ...layer,
    migration: {
      moves: replan.moves.map((m) => ({ ...m, round: -1 })),
      movedUnits: replan.movedUnits,
      moveCost: replan.moveCost,
      optimalMakespan: fresh.makespan,
      referenceMakespan: replan.referenceMakespan,
      targetMakespan: replan.targetMakespan,
      makespanVsOptimal: fresh.makespan > 0 ? layer.makespan / fresh.makespan : 1,
      previousMakespan,
      moveStatus: replan.moveStatus,
      moveLowerBound: replan.moveLowerBound,
      moveEngine: replan.moveEngine,
      keep: false,
      ...(replan.moveFallbackReason !== undefined ? { moveFallbackReason: replan.moveFallbackReason } : {}),
    },
  };
}

function layerOf(
  problem: LayerProblem,
  unit2gpu: readonly number[],
  lowerBound: number,
  tolerance: number,
  fresh: PlanLayer,
): PlanLayer {
  const makespan = makespanOf(problem, unit2gpu);
  const unproven = fresh.status === 'optimal' || fresh.status === 'within_tolerance' ? 'time_limit' : fresh.status;
  const status =
    problem.speeds.length === 1 ? 'trivial' : statusForGap(relativeGap(makespan, lowerBound), tolerance, unproven);
  const result = buildLayerResult(problem, unit2gpu, {
    lowerBound,
    status,
    engine: fresh.engine,
    solveMs: fresh.solveMs,
    // A status taken over from the fresh layer keeps its reason (a fallback says why).
    ...(status === fresh.status && fresh.fallbackReason !== undefined ? { fallbackReason: fresh.fallbackReason } : {}),
  });
  return { ...result, contiguousMakespan: fresh.contiguousMakespan, greedyMakespan: fresh.greedyMakespan };
}

/**
 * Hysteresis and the layer limit: a layer whose improvement over its running placement is below
 * minImprovement keeps it (keep: true), and beyond maxLayers changed layers the ones with the
 * smallest improvement keep theirs too. A layer whose running placement breaks the new
 * constraints cannot keep it and always changes.
 */
function applyLayerLimits(resolved: ResolvedRequest, migration: ResolvedMigration, layers: PlanLayer[]): void {
  const improvementOf = (layer: PlanLayer) => {
    const before = layer.migration!.previousMakespan;
    return before === null ? Infinity : before > 0 ? (before - layer.makespan) / before : 0;
  };
  const keep = (l: number) => {
    const problem = resolved.layers[l];
    const spec = migration.layers[l];
    const old = layers[l];
    const tolerance = resolved.solver.gapTolerance + spec.makespanTolerance;
    const kept = layerOf(problem, spec.previous, old.lowerBound, tolerance, { ...old, status: 'heuristic' });
    const before = old.migration!;
    // Staying put moves nothing, which is trivially the least; the target no longer applies.
    layers[l] = {
      ...kept,
      migration: {
        moves: [],
        movedUnits: 0,
        moveCost: 0,
        optimalMakespan: before.optimalMakespan,
        referenceMakespan: before.referenceMakespan,
        targetMakespan: before.targetMakespan,
        makespanVsOptimal: before.optimalMakespan > 0 ? kept.makespan / before.optimalMakespan : 1,
        previousMakespan: before.previousMakespan,
        moveStatus: 'optimal',
        moveLowerBound: 0,
        moveEngine: 'previous',
        keep: true,
      },
    };
  };
  const changing = layers
    .map((layer, l) => ({ l, improvement: improvementOf(layer), moved: layer.migration!.movedUnits > 0 }))
    .filter((c) => c.moved);
  for (const c of changing) if (c.improvement < migration.minImprovement) keep(c.l);
  if (migration.maxLayers === null) return;
  const still = changing
    .filter((c) => c.improvement >= migration.minImprovement)
    .sort((a, b) => absoluteGain(layers[b.l]) - absoluteGain(layers[a.l]) || a.l - b.l);
  for (const c of still.slice(migration.maxLayers)) if (Number.isFinite(c.improvement)) keep(c.l);
}

function absoluteGain(layer: PlanLayer): number {
  const before = layer.migration!.previousMakespan;
  return before === null ? Infinity : before - layer.makespan;
}

function migrationTotals(
  migration: ResolvedMigration,
  layers: PlanLayer[],
  round: number[],
): NonNullable<Plan['migration']> {
  const parts = layers.map((l) => l.migration as LayerMigration);
  const optimalMakespan = sum(parts.map((m) => m.optimalMakespan));
  const makespan = sum(layers.map((l) => l.makespan));
  return {
    previousPlanId: migration.previousPlanId,
    makespanTolerance: migration.makespanTolerance,
    maxMoves: migration.maxMoves,
    minImprovement: migration.minImprovement,
    maxLayers: migration.maxLayers,
    moveCostUnit: migration.moveCostUnit,
    totals: {
      movedUnits: sum(parts.map((m) => m.movedUnits)),
      moveCost: sum(parts.map((m) => m.moveCost)),
      rounds: round.length === 0 ? 0 : Math.max(...round) + 1,
      layersChanged: parts.filter((m) => m.movedUnits > 0).length,
      layersKept: parts.filter((m) => m.keep).length,
      layersMovesProven: parts.filter((m) => m.moveStatus === 'optimal').length,
      optimalMakespan,
      makespanVsOptimal: optimalMakespan > 0 ? makespan / optimalMakespan : 1,
    },
  };
}
