/**
 * Messages between the solver pool and its workers. Everything is plain data (structured clone):
 * class instances such as HplbError are flattened here and rebuilt on the pool's side.
 */
import { ERRORS, HplbError, type ErrorCode } from '../errors.ts';
import { solveLayerTask, type LayerOutcome, type LayerTask, type TaskProgress } from '../planner/layer-task.ts';
import type { EngineName } from '../planner/plan.ts';
import type { LayerEngine } from '../solver/types.ts';

/** Pool -> worker: solve this task and answer with the same id. */
export interface TaskMessage {
  readonly id: number;
  readonly task: LayerTask;
}

/** An HplbError flattened for the trip across the thread boundary. */
export interface SerializedHplbError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly pointer?: string;
  readonly rule?: string;
}

/**
 * Worker -> pool.
 * ready: GLPK is loaded, tasks may come. progress: the best placement so far, kept by the pool in
 * case the worker overruns and is stopped. done: the task's outcome. rejected: the problem itself is
 * wrong (an HplbError the caller must see). failed: the solver threw something else; the worker
 * is still alive and the pool answers with greedy instead.
 */
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly id: number; readonly progress: TaskProgress }
  | { readonly type: 'done'; readonly id: number; readonly outcome: LayerOutcome }
  | { readonly type: 'rejected'; readonly id: number; readonly error: SerializedHplbError }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };

/** Solves one task on the worker's engines and says how it went; never throws. `post` sends progress. */
export function answerTask(
  message: TaskMessage,
  engines: Readonly<Record<EngineName, LayerEngine>>,
  post?: (message: WorkerMessage) => void,
): WorkerMessage {
  const { id, task } = message;
  try {
    const onProgress = post ? (progress: TaskProgress) => post({ type: 'progress', id, progress }) : undefined;
    return { type: 'done', id, outcome: solveLayerTask(task, engines, onProgress) };
  } catch (error) {
    if (error instanceof HplbError) return { type: 'rejected', id, error: serializeHplbError(error) };
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { type: 'failed', id, message: text };
  }
}

export function serializeHplbError(error: HplbError): SerializedHplbError {
  return {
    code: error.code,
    message: error.message,
    ...(error.pointer !== undefined ? { pointer: error.pointer } : {}),
    ...(error.rule !== undefined ? { rule: error.rule } : {}),
  };
}

/** Rebuilds the HplbError a worker threw; an unknown code (a version skew) becomes INTERNAL. */
export function deserializeHplbError(error: SerializedHplbError): HplbError {
  const code: ErrorCode = Object.hasOwn(ERRORS, error.code) ? error.code : 'INTERNAL';
  return new HplbError(code, error.message, { pointer: error.pointer, rule: error.rule });
}
