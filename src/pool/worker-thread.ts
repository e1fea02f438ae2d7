/**
 * The thread side of worker-pool.ts, and what crosses the thread boundary: a task in (with its id
 * and expiry), start and progress reports out on the thread's own port (no channel per task), and
 * one answer: the task's value, the HplbError it threw as plain data (structured clone keeps an
 * Error's message but not an HplbError's code, pointer or rule), or the text of anything else it
 * threw (the thread lives on).
 */
import { parentPort, threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ERRORS, HplbError, type ErrorCode } from '../errors.ts';

/** What a thread posts once its module is set up, when it begins a task, and with each progress report. */
export const READY = 'hplb:worker-ready';
export const STARTED = 'hplb:task-started';
export const PROGRESS = 'hplb:task-progress';

/** A task as it travels to a thread: its id in the pool (for STARTED and PROGRESS) and when it expires. */
export interface Envelope<T> {
  readonly id: number;
  readonly task: T;
  /** Date.now() past which the task is not begun (it was answered without its worker). */
  readonly expiresAt?: number;
}

/** An HplbError flattened for the trip back; `in`: the request part of a validation error. */
export interface SerializedHplbError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly pointer?: string;
  readonly rule?: string;
  readonly in?: 'body' | 'query' | 'path';
}

/** A task's answer as it travels back (an expired task's value is undefined). */
export type TaskAnswer =
  | { readonly value: unknown }
  | { readonly error: SerializedHplbError }
  | { readonly threw: string; readonly stack?: string };

/** A task's value whose buffers move back to the pool rather than being copied. */
export class Moving {
  constructor(
    readonly value: unknown,
    readonly buffers: readonly ArrayBuffer[],
  ) {}
}

/** Called by a worker module at the end of its set-up: the pool counts it as ready. */
export function announceReady(): void {
  parentPort?.postMessage({ [READY]: threadId });
}

/**
 * A worker module's default export: tells the pool when each task begins on the thread, then
 * answers it (answerOf), with a `report` that sends progress to the task's `progress` option; an
 * expired task is skipped. A task can wait inside piscina for a thread while threads are replaced,
 * and its time limit must not run while it waits: one that did was counted as an overrun and
 * answered without its worker, 81 times in one overrun class against 8 real replacements.
 */
export function serveTasks<T>(
  answer: (task: T, report: (progress: unknown) => void) => unknown,
): (envelope: Envelope<T>) => Promise<unknown> {
  return async ({ id, task, expiresAt }) => {
    if (expiresAt !== undefined && Date.now() >= expiresAt) return { value: undefined } satisfies TaskAnswer;
    parentPort?.postMessage({ [STARTED]: id, thread: threadId });
    const answered = await answerOf(() =>
      answer(task, (progress) => parentPort?.postMessage({ [PROGRESS]: id, progress })),
    );
    if (!('value' in answered && answered.value instanceof Moving)) return answered;
    const { value, buffers } = answered.value;
    const moved = { [Piscina.transferableSymbol]: buffers, [Piscina.valueSymbol]: { value } };
    return Piscina.move(moved as unknown as Parameters<typeof Piscina.move>[0]);
  };
}

/** What `run` gives, as it travels back; never throws. */
export async function answerOf(run: () => unknown): Promise<TaskAnswer> {
  try {
    return { value: await run() };
  } catch (error) {
    if (error instanceof HplbError) return { error: serializeHplbError(error) };
    if (!(error instanceof Error)) return { threw: String(error) };
    return { threw: `${error.name}: ${error.message}`, ...(error.stack ? { stack: error.stack } : {}) };
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
