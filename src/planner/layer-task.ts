import { HplbError } from '../errors.ts';
import { greedyEngine } from '../solver/engines/greedy.ts';
import { splitsEnabled } from '../solver/split/with-splits.ts';
import type { LayerEngine, LayerProblem, LayerResult } from '../solver/types.ts';
import type { EngineName } from './plan.ts';

/** One distinct layer to solve; plain data so it can cross a worker boundary. */
export interface LayerTask {
  readonly problem: LayerProblem;
  readonly engine: EngineName;
  readonly timeLimitMs: number;
  readonly gapTolerance: number;
}

/** A layer's answer plus greedy's makespan, which every plan reports for comparison. */
export interface LayerOutcome {
  readonly result: LayerResult;
  /** null when greedy found no feasible placement (tight KV-group limits) and an exact engine did. */
  readonly greedyMakespan: number | null;
}

/** Solves layer tasks somewhere (inline, or in a worker pool); never rejects for solver trouble. */
export interface LayerRunner {
  run(task: LayerTask): Promise<LayerOutcome>;
  /** How many tasks it runs at once. */
  readonly concurrency: number;
}

/**
 * Solves one layer task synchronously: greedy first (its makespan is always reported and it is
 * the incumbent every exact engine starts from), then the requested engine.
 */
export function solveLayerTask(task: LayerTask, engines: Readonly<Record<EngineName, LayerEngine>>): LayerOutcome {
  const start = performance.now();
  const options = { timeLimitMs: task.timeLimitMs, gapTolerance: task.gapTolerance };
  const engine = engines[task.engine];
  if (!engine) throw new HplbError('INVALID_PROBLEM', `unknown engine "${task.engine}"`, { pointer: '/solver/engine', rule: 'enum' });
  let greedy: LayerResult | null = null;
  try {
    greedy = greedyEngine.solveLayer(task.problem, options);
  } catch (error) {
    // Other engines answer (or refuse) on their own; greedy's makespan is then not reported.
    if (!(error instanceof HplbError) || task.engine === 'greedy') throw error;
  }
  if (greedy && task.engine === 'greedy' && !splitsEnabled(task.problem)) return { result: greedy, greedyMakespan: greedy.makespan };
  // Greedy's time counts against the layer's budget.
  const rest = { ...options, timeLimitMs: Math.max(1, task.timeLimitMs - (performance.now() - start)) };
  const result = engine.solveLayer(task.problem, greedy ? { ...rest, incumbent: greedy.unit2gpu } : rest);
  return { result, greedyMakespan: greedy?.makespan ?? null };
}

/**
 * Greedy's answer for a task whose solver failed (crashed, overran, threw), marked
 * greedy_fallback with the reason. Throws greedy's HplbError when greedy cannot place it either.
 */
export function greedyFallback(task: LayerTask, reason: string): LayerOutcome {
  const greedy = greedyEngine.solveLayer(task.problem, { timeLimitMs: task.timeLimitMs, gapTolerance: task.gapTolerance });
  return { result: { ...greedy, status: 'greedy_fallback', fallbackReason: reason }, greedyMakespan: greedy.makespan };
}

/** Runs tasks on the calling thread, one at a time. */
export function createInlineRunner(engines: Readonly<Record<EngineName, LayerEngine>>): LayerRunner {
  return {
    concurrency: 1,
    run: async (task) => solveLayerTask(task, engines),
  };
}
