/**
 * What a solver worker thread does with one layer task, and what crosses the thread boundary:
 * the task in, progress reports and an answer out. Answers are plain data because structured
 * clone keeps an Error's message but not an HplbError's code, pointer or rule.
 */
import { ERRORS, HplbError, type ErrorCode } from '../errors.ts';
import {
  solveLayerTask,
  type LayerOutcome,
  type LayerSolver,
  type LayerTask,
  type TaskProgress,
} from '../planner/layer-task.ts';

/** An HplbError flattened for the trip back (solver and body workers); `in`: the request part of a validation error. */
export interface SerializedHplbError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly pointer?: string;
  readonly rule?: string;
  readonly in?: 'body' | 'query' | 'path';
}

/**
 * done: the outcome. rejected: the problem itself is wrong (an HplbError the caller must see).
 * failed: the solver threw something else; the thread lives on and the pool answers with greedy.
 */
export type SolveAnswer =
  | { readonly type: 'done'; readonly outcome: LayerOutcome }
  | { readonly type: 'rejected'; readonly error: SerializedHplbError }
  | { readonly type: 'failed'; readonly message: string };

/**
 * Solves one task on `solver` and says how it went; never throws. `report` gets the engine's best
 * placement before each step that may overrun (worker-pool.ts's serveTasks sends it to the pool).
 */
export function answerTask(
  task: LayerTask,
  solver: LayerSolver,
  report: (progress: TaskProgress) => void,
): SolveAnswer {
  try {
    return { type: 'done', outcome: solveLayerTask(task, solver, report) };
  } catch (error) {
    if (error instanceof HplbError) return { type: 'rejected', error: serializeHplbError(error) };
    return { type: 'failed', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

export function serializeHplbError(error: HplbError): SerializedHplbError {
  const part = (error as { in?: SerializedHplbError['in'] }).in;
  return {
    code: error.code,
    message: error.message,
    ...(error.pointer !== undefined ? { pointer: error.pointer } : {}),
    ...(error.rule !== undefined ? { rule: error.rule } : {}),
    ...(part !== undefined ? { in: part } : {}),
  };
}

/** Rebuilds the HplbError a worker threw; an unknown code (a version skew) becomes INTERNAL. */
export function deserializeHplbError(error: SerializedHplbError): HplbError {
  const code: ErrorCode = Object.hasOwn(ERRORS, error.code) ? error.code : 'INTERNAL';
  const rebuilt = new HplbError(code, error.message, { pointer: error.pointer, rule: error.rule });
  return error.in === undefined ? rebuilt : Object.assign(rebuilt, { in: error.in });
}
