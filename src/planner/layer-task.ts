import { HplbError } from '../errors.ts';
import { layerLowerBound } from '../solver/bounds.ts';
import { constructionAssignment, greedyEngine } from '../solver/engines/greedy.ts';
import { createEngines } from '../solver/engines/index.ts';
import { GLPK_STRETCH, nextGlpkStretch } from '../solver/engines/portfolio.ts';
import { buildLayerResult, makespanOf, relativeGap, statusForGap } from '../solver/layer-result.ts';
import { replanLayer, type FreshLayer, type ReplanOutcome } from '../solver/replan/replan-layer.ts';
import type { MigrationSpec } from '../solver/replan/types.ts';
import { splitsEnabled } from '../solver/split/with-splits.ts';
import type { GLPK } from 'glpk.js/node';
import type { LayerEngine, LayerProblem, LayerProgress, LayerResult } from '../solver/types.ts';
import type { EngineName } from './plan.ts';

/** One distinct layer to solve; plain data so it can cross a worker boundary. */
export interface LayerTask {
  readonly problem: LayerProblem;
  readonly engine: EngineName;
  readonly timeLimitMs: number;
  readonly gapTolerance: number;
  /** [units] a placement an earlier run found, which the answer never loses to. */
  readonly incumbent?: readonly number[];
  /** A lower bound an earlier run proved. */
  readonly lowerBound?: number;
  /** Re-plan stage 2 instead of a fresh solve: least moves from `spec.previous` near `fresh`. */
  readonly migration?: { readonly spec: MigrationSpec; readonly fresh: FreshLayer };
}

/** A layer's answer plus greedy's makespan, which every plan reports for comparison. */
export interface LayerOutcome {
  readonly result: LayerResult;
  /** null when greedy found no feasible placement (tight KV-group limits) and an exact engine did. */
  readonly greedyMakespan: number | null;
  /** The re-plan of a migration task (absent when a fallback answered it). */
  readonly replan?: ReplanOutcome;
}

/** How a caller may end a task early. */
export interface RunOptions {
  /**
   * Aborted when the caller's own deadline passes (the plan's): the task is answered at once with
   * what its solver reported so far, else greedy, without waiting for the solver to stop.
   */
  readonly signal?: AbortSignal;
}

/** Solves layer tasks somewhere (inline, or in a worker pool); never rejects for solver trouble. */
export interface LayerRunner {
  run(task: LayerTask, options?: RunOptions): Promise<LayerOutcome>;
  /** How many tasks it runs at once. */
  readonly concurrency: number;
  /**
   * Extra ms past a plan's time limit before its unanswered tasks are ended through RunOptions.signal
   * (tests on a loaded machine widen it); absent: 0, the plan is cut at its time limit.
   */
  planGraceMs?(timeLimitMs: number): number;
}

/** What a task's engine knew part-way, with greedy's makespan (see SolveOptions.onProgress). */
export interface TaskProgress extends LayerProgress {
  readonly greedyMakespan: number | null;
}

/**
 * What a thread solves layer tasks with: the engines, and the GLPK instance of that thread, which
 * a re-plan's migration step runs on (a thread without one cannot build a solver at all).
 */
export interface LayerSolver {
  readonly engines: Readonly<Record<EngineName, LayerEngine>>;
  readonly glpk: GLPK;
  /**
   * GLPK's stretch (wall time over time given) as measured on this thread so far: each task's
   * engine gets it as SolveOptions.glpkStretch and reports its GLPK runs back into it. Absent:
   * every task starts from the engine's first guess.
   */
  readonly glpkStretch?: { value: number };
}

/** A solver on `glpk` (every engine by default) that keeps GLPK's stretch across the tasks it solves. */
export function createLayerSolver(glpk: GLPK, engines: LayerSolver['engines'] = createEngines(glpk)): LayerSolver {
  return { glpk, engines, glpkStretch: { value: GLPK_STRETCH } };
}

/** The stretch estimate as an engine input, and the report that updates it. */
function stretchOptions(solver: LayerSolver) {
  const stretch = solver.glpkStretch;
  if (!stretch) return {};
  return {
    glpkStretch: stretch.value,
    onGlpkRun: (givenMs: number, tookMs: number) => {
      stretch.value = nextGlpkStretch(stretch.value, givenMs, tookMs);
    },
  };
}

/**
 * Solves one layer task synchronously: greedy first (its makespan is always reported and it is
 * the incumbent every exact engine starts from), then the requested engine. `onProgress` hears
 * the engine's best placement before each step that may overrun.
 */
export function solveLayerTask(
  task: LayerTask,
  solver: LayerSolver,
  onProgress?: (progress: TaskProgress) => void,
): LayerOutcome {
  const start = performance.now();
  if (task.migration) return solveMigrationTask(task, task.migration, solver.glpk, start);
  const { engines } = solver;
  const options = { timeLimitMs: task.timeLimitMs, gapTolerance: task.gapTolerance };
  const engine = engines[task.engine];
  if (!engine)
    throw new HplbError('INVALID_PROBLEM', `unknown engine "${task.engine}"`, {
      pointer: '/solver/engine',
      rule: 'enum',
    });
  let greedy: LayerResult | null = null;
  try {
    greedy = greedyEngine.solveLayer(task.problem, options);
  } catch (error) {
    // Other engines answer (or refuse) on their own; greedy's makespan is then not reported.
    if (!(error instanceof HplbError) || task.engine === 'greedy') throw error;
  }
  if (greedy && task.engine === 'greedy' && !splitsEnabled(task.problem))
    return { result: greedy, greedyMakespan: greedy.makespan };
  // Greedy's time counts against the layer's budget.
  const rest = {
    ...options,
    timeLimitMs: Math.max(1, task.timeLimitMs - (performance.now() - start)),
    ...(task.lowerBound !== undefined ? { lowerBound: task.lowerBound } : {}),
  };
  const incumbent =
    task.incumbent && (!greedy || makespanOf(task.problem, task.incumbent) < greedy.makespan)
      ? task.incumbent
      : greedy?.unit2gpu;
  const greedyMakespan = greedy?.makespan ?? null;
  // The placement to answer with should the engine overrun: ready before the engine starts.
  if (incumbent && onProgress) {
    const lowerBound = Math.max(greedy?.lowerBound ?? 0, task.lowerBound ?? 0);
    const engine = incumbent === greedy?.unit2gpu ? 'greedy' : task.engine;
    onProgress({ unit2gpu: incumbent, lowerBound, engine, greedyMakespan });
  }
  const report = onProgress
    ? { onProgress: (progress: LayerProgress) => onProgress({ ...progress, greedyMakespan }) }
    : {};
  const result = engine.solveLayer(task.problem, {
    ...rest,
    ...(incumbent ? { incumbent } : {}),
    ...report,
    ...stretchOptions(solver),
  });
  return { result, greedyMakespan };
}

/**
 * The answer for a task whose worker was stopped (or left behind) after it reported progress: that
 * placement and bound. An engine's own placement gets the status its gap earns (time_limit at
 * worst); greedy's, reported before the engine started, is greedy_fallback with the reason.
 */
export function progressOutcome(
  task: LayerTask,
  progress: TaskProgress,
  solveMs: number,
  reason: string,
): LayerOutcome {
  const gap = relativeGap(makespanOf(task.problem, progress.unit2gpu), progress.lowerBound);
  const greedyOnly = progress.engine === 'greedy';
  const result = buildLayerResult(task.problem, progress.unit2gpu, {
    lowerBound: progress.lowerBound,
    status: greedyOnly ? 'greedy_fallback' : statusForGap(gap, task.gapTolerance, 'time_limit'),
    engine: progress.engine,
    solveMs,
    ...(greedyOnly ? { fallbackReason: reason } : {}),
  });
  return { result, greedyMakespan: progress.greedyMakespan };
}

function solveMigrationTask(
  task: LayerTask,
  migration: NonNullable<LayerTask['migration']>,
  glpk: GLPK,
  start: number,
): LayerOutcome {
  const replan = replanLayer(task.problem, migration.spec, migration.fresh, { glpk, timeLimitMs: task.timeLimitMs });
  // The plan is assembled from `replan`; the result only keeps the outcome's shape.
  const result = buildLayerResult(task.problem, replan.unit2gpu, {
    lowerBound: 0,
    status: 'heuristic',
    engine: 'replan',
    solveMs: performance.now() - start,
  });
  return { result, greedyMakespan: null, replan };
}

/**
 * Layers up to this many units get full greedy when a fallback is computed on the calling thread
 * (a few ms at most); larger ones get greedy's construction alone, since the local search grows
 * with units squared (seconds at 4096 units) and the calling thread serves every request.
 */
export const FULL_GREEDY_MAX_UNITS = 128;

/**
 * Greedy's answer for a task whose solver failed (crashed, overran, threw), marked
 * greedy_fallback with the reason; for layers above FULL_GREEDY_MAX_UNITS, greedy's construction
 * without its local search (greedyMakespan is then null: full greedy did not run). Throws
 * greedy's HplbError when greedy cannot place it either.
 */
export function greedyFallback(task: LayerTask, reason: string): LayerOutcome {
  const { problem } = task;
  if (problem.costs.length <= FULL_GREEDY_MAX_UNITS) {
    const greedy = greedyEngine.solveLayer(problem, { timeLimitMs: task.timeLimitMs, gapTolerance: task.gapTolerance });
    return {
      result: { ...greedy, status: 'greedy_fallback', fallbackReason: reason },
      greedyMakespan: greedy.makespan,
    };
  }
  const start = performance.now();
  const unit2gpu = constructionAssignment(problem);
  const result = buildLayerResult(problem, unit2gpu, {
    lowerBound: layerLowerBound(problem),
    status: 'greedy_fallback',
    engine: 'greedy',
    solveMs: performance.now() - start,
    fallbackReason: `${reason}; greedy's construction only (no local search on ${problem.costs.length} units)`,
  });
  return { result, greedyMakespan: null };
}

/** Runs tasks on the calling thread, one at a time, on `engines` (by default every engine on `glpk`). */
export function createInlineRunner(glpk: GLPK, engines?: LayerSolver['engines']): LayerRunner {
  const solver = createLayerSolver(glpk, engines);
  return {
    concurrency: 1,
    run: async (task) => solveLayerTask(task, solver),
  };
}
