/**
 * Layer tasks solved on worker threads (GLPK's solve is synchronous), with a hard deadline per
 * task counted from when it is queued: whatever goes wrong in a worker (overrun, crash, an
 * unexpected throw), the task is answered by its deadline at the latest, with the best placement
 * its engine reported (worker-thread.ts), else greedy on this thread (status
 * greedy_fallback and the reason). Only errors in the problem itself reject. A worker still
 * solving past its own limit + grace is stopped and replaced; a warm spare takes its place at once.
 */
import { availableParallelism } from 'node:os';
import { HplbError } from '../errors.ts';
import {
  greedyFallback,
  progressOutcome,
  type LayerOutcome,
  type LayerRunner,
  type LayerTask,
  type TaskProgress,
} from '../planner/layer-task.ts';
import { createWorkerPool, TaskOverrun, TaskThrew, workerEntry, type WorkerPool } from './worker-pool.ts';

export interface SolverPoolOptions {
  /** Workers solving at once; default os.availableParallelism(). */
  readonly size?: number;
  /** Warm workers kept beside them to take over at once from one that is stopped; default 0. */
  readonly spares?: number;
  /**
   * Extra ms past a task's timeLimitMs before it is answered without its worker (counted from when
   * it is queued) and before its worker counts as stuck and is replaced (counted from when it
   * started); default 10% of the limit + 50 ms.
   */
  readonly graceMs?: (timeLimitMs: number) => number;
  /** Extra ms past a plan's time limit before its unanswered tasks are ended (LayerRunner.planGraceMs); default 0. */
  readonly planGraceMs?: (timeLimitMs: number) => number;
  /** Called with the reason whenever a worker is replaced after a crash or an overrun; must not throw. */
  readonly onWorkerRestart?: (reason: string) => void;
  /** Worker module to run instead of solver-worker (tests point this at fixtures). */
  readonly workerFile?: URL;
}

/**
 * run() queues a task (FIFO) and resolves with its outcome; it rejects only for an HplbError in the
 * problem (or DRAINING). When RunOptions.signal aborts first, the task is answered at once (its
 * worker's progress, else greedy) and its worker, if it has one, finishes or overruns on its own.
 * ready() resolves when the workers have loaded GLPK.
 */
export type SolverPool = LayerRunner &
  Pick<WorkerPool, 'ready' | 'isReady' | 'close'> & {
    /** Layer tasks waiting for a worker, and tasks running on one. */
    readonly queueDepth: number;
    readonly busy: number;
  };

export const defaultGraceMs = (timeLimitMs: number): number => 0.1 * timeLimitMs + 50;

export function createSolverPool(options: SolverPoolOptions = {}): SolverPool {
  const size = options.size ?? availableParallelism();
  if (!(Number.isInteger(size) && size >= 1))
    throw new HplbError('INTERNAL', `solver pool size must be an integer >= 1, got ${size}`);
  const pool = createWorkerPool({
    entry: options.workerFile ?? workerEntry(import.meta.url, 'solver-worker'),
    threads: size,
    spares: options.spares ?? 0,
  });
  const settings: Settings = {
    pool,
    graceMs: options.graceMs ?? defaultGraceMs,
    onWorkerRestart: options.onWorkerRestart ?? (() => undefined),
  };
  return {
    concurrency: size,
    run: (task, { signal } = {}) => runTask(settings, task, signal),
    get queueDepth() {
      return pool.queued;
    },
    get busy() {
      return pool.running;
    },
    ready: () => pool.ready(),
    isReady: () => pool.isReady(),
    planGraceMs: options.planGraceMs ?? (() => 0),
    close: () => pool.close(),
  };
}

interface Settings {
  readonly pool: WorkerPool;
  readonly graceMs: (timeLimitMs: number) => number;
  readonly onWorkerRestart: (reason: string) => void;
}

/**
 * One task's way through the pool: answered by its worker, or without it (its reported progress,
 * else greedy) at its deadline, at its caller's abort, or when its worker fails; its worker is
 * stopped (worker-pool.ts) when it runs past its own limit + grace.
 */
function runTask({ pool, graceMs, onWorkerRestart }: Settings, task: LayerTask, signal?: AbortSignal) {
  const queuedAt = performance.now();
  const limitMs = task.timeLimitMs + graceMs(task.timeLimitMs);
  const dequeue = new AbortController();
  let progress: TaskProgress | null = null;
  let startedAt: number | null = null;
  let settled = false;
  let deadline: NodeJS.Timeout | undefined;
  const deadlineText = (): string =>
    `its deadline of ${formatMs(limitMs)} ms (time limit ${formatMs(task.timeLimitMs)} ms + grace ${formatMs(limitMs - task.timeLimitMs)} ms)`;

  return new Promise<LayerOutcome>((resolve, reject) => {
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    /** Answers without the worker: with its reported progress, else greedy a turn later (one greedy per turn). */
    const answer = (reason: string): void => {
      if (!settle()) return;
      if (startedAt === null) dequeue.abort();
      const spent = performance.now() - (startedAt ?? queuedAt);
      if (progress) resolve(progressOutcome(task, progress, spent, reason));
      else
        setImmediate(() =>
          Promise.resolve()
            .then(() => greedyFallback(task, reason))
            .then(resolve, reject),
        );
    };
    const onAbort = (): void => {
      const where = startedAt === null ? 'waited for a solver worker' : 'was still being solved';
      answer(`the plan reached its deadline while this layer ${where}`);
    };
    const onFailure = (error: unknown): void => {
      // The problem itself is wrong, or the pool is closing: the caller must see it.
      if (error instanceof HplbError) {
        if (settle()) reject(error);
        return;
      }
      const failure = failureOf(error, dequeue.signal.aborted, deadlineText);
      if (!failure) return;
      answer(failure.reason);
      if (failure.replaced) onWorkerRestart(failure.reason);
    };

    if (signal?.aborted) return answer('the plan reached its deadline before this layer was started');
    if (pool.failed) return answer(pool.failed.message);
    signal?.addEventListener('abort', onAbort, { once: true });
    deadline = setTimeout(() => {
      answer(
        startedAt === null
          ? `the task waited for a solver worker past ${deadlineText()}`
          : `the task passed ${deadlineText()} while its worker was still solving it`,
      );
    }, limitMs);
    pool
      .run<LayerOutcome | undefined>(task, {
        dequeue: dequeue.signal,
        // A task still waiting at its deadline is answered then; a thread that reaches it later skips it.
        expiresAt: Date.now() + limitMs,
        runLimitMs: limitMs,
        started: () => {
          startedAt = performance.now();
        },
        progress: (report) => {
          progress = report as TaskProgress;
        },
      })
      // undefined: the task expired before a thread reached it (it was answered then).
      .then((outcome) => {
        if (outcome !== undefined && settle()) resolve(outcome);
      }, onFailure);
  });
}

/** Why a task's worker gave no answer, and whether its thread was replaced; null for a task taken out of the queue (answered already). */
function failureOf(error: unknown, dequeued: boolean, deadlineText: () => string) {
  if (error instanceof TaskThrew) return { reason: `solver worker threw: ${error.message}`, replaced: false };
  if (error instanceof TaskOverrun)
    return { reason: `solver worker overran ${deadlineText()} and was replaced`, replaced: true };
  if (dequeued) return null;
  return { reason: `solver worker failed: ${error instanceof Error ? error.message : String(error)}`, replaced: true };
}

const formatMs = (ms: number): string => String(Math.round(ms * 10) / 10);
