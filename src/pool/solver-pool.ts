/**
 * Layer tasks solved on worker threads (GLPK's solve is synchronous), with a hard deadline per
 * task counted from when it is queued: whatever goes wrong in a worker (overrun, crash, an
 * unexpected throw), the task is answered by its deadline at the latest, with the best placement
 * its engine reported over the task's MessagePort, else greedy on this thread (status
 * greedy_fallback and the reason). Only errors in the problem itself reject. A worker still
 * solving past its own limit + grace is stopped and replaced; a warm spare takes its place at once.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { HplbError } from '../errors.ts';
import {
  greedyFallback,
  progressOutcome,
  type LayerOutcome,
  type LayerRunner,
  type LayerTask,
  type RunOptions,
  type TaskProgress,
} from '../planner/layer-task.ts';
import { deserializeHplbError, type SolveAnswer, type SolveRequest } from './solve-task.ts';
import { createWorkerPool, workerEntry } from './worker-pool.ts';

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

export interface SolverPool extends LayerRunner {
  /** Workers solving at once. */
  readonly concurrency: number;
  /**
   * Queues the task (FIFO) and resolves with its outcome; rejects only for an HplbError in the
   * problem. When `signal` aborts first, the task is answered at once (its worker's progress, else
   * greedy) and its worker, if it has one, finishes or overruns on its own.
   */
  run(task: LayerTask, options?: RunOptions): Promise<LayerOutcome>;
  /** Tasks waiting for a worker, and tasks running on one. */
  readonly queueDepth: number;
  readonly busy: number;
  /** Resolves when the workers have loaded GLPK; rejects when one cannot start, or on close. */
  ready(): Promise<void>;
  /** True once a worker has loaded GLPK, for as long as the pool is open (also while one is replaced). */
  isReady(): boolean;
  /** Stops every worker; queued, running and later runs reject with HplbError('DRAINING'). */
  close(): Promise<void>;
}

export const defaultGraceMs = (timeLimitMs: number): number => 0.1 * timeLimitMs + 50;

export function createSolverPool(options: SolverPoolOptions = {}): SolverPool {
  const size = options.size ?? availableParallelism();
  if (!(Number.isInteger(size) && size >= 1))
    throw new HplbError('INTERNAL', `solver pool size must be an integer >= 1, got ${size}`);
  const graceMs = options.graceMs ?? defaultGraceMs;
  const pool = createWorkerPool({
    entry: options.workerFile ?? workerEntry(import.meta.url, 'solver-worker'),
    threads: size,
    spares: options.spares ?? 0,
  });
  const deadlineText = (limit: number): string => {
    const grace = graceMs(limit);
    return `its deadline of ${formatMs(limit + grace)} ms (time limit ${formatMs(limit)} ms + grace ${formatMs(grace)} ms)`;
  };

  function run(task: LayerTask, { signal }: RunOptions = {}): Promise<LayerOutcome> {
    return new Promise<LayerOutcome>((resolve, reject) => {
      const limit = task.timeLimitMs + graceMs(task.timeLimitMs);
      const queuedAt = performance.now();
      let progress: TaskProgress | null = null;
      let startedAt: number | null = null;
      let settled = false;
      let overran = false;
      let overrun: NodeJS.Timeout | undefined;
      const dequeue = new AbortController();
      const stop = new AbortController();
      const channel = new MessageChannel();
      channel.port1.on('message', (report: TaskProgress) => {
        progress = report;
      });
      const done = (): void => {
        settled = true;
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
      };
      /** Answers without the worker: with its reported progress, else greedy, a turn later (one greedy per turn). */
      const answer = (reason: string): void => {
        if (settled) return;
        done();
        if (startedAt === null) dequeue.abort();
        const solveMs = performance.now() - (startedAt ?? queuedAt);
        if (progress) resolve(progressOutcome(task, progress, solveMs, reason));
        else
          setImmediate(() => {
            try {
              resolve(greedyFallback(task, reason));
            } catch (error) {
              reject(error);
            }
          });
      };
      const where = (): string => (startedAt === null ? 'waited for a solver worker' : 'was still being solved');
      const onAbort = (): void => answer(`the plan reached its deadline while this layer ${where()}`);
      const deadline = setTimeout(
        () =>
          answer(
            startedAt === null
              ? `the task waited for a solver worker past ${deadlineText(task.timeLimitMs)}`
              : `the task passed ${deadlineText(task.timeLimitMs)} while its worker was still solving it`,
          ),
        limit,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      const started = (): void => {
        startedAt = performance.now();
        overrun = setTimeout(() => {
          overran = true;
          stop.abort();
        }, limit);
      };
      const finished = (): void => {
        clearTimeout(overrun);
        channel.port1.close();
      };
      if (signal?.aborted) answer('the plan reached its deadline before this layer was started');
      else if (pool.failed) answer(pool.failed.message);
      if (settled) {
        finished();
        return;
      }
      const request: SolveRequest = { task, progress: channel.port2 };
      const sent = { dequeue: dequeue.signal, stop: stop.signal, transfer: [channel.port2], started };
      pool.run<SolveAnswer>(request, sent).then(
        (reply) => {
          finished();
          if (settled) return;
          if (reply.type === 'failed') answer(`solver worker threw: ${reply.message}`);
          else {
            done();
            if (reply.type === 'done') resolve(reply.outcome);
            else reject(deserializeHplbError(reply.error));
          }
        },
        (error: unknown) => {
          finished();
          if (error instanceof HplbError && error.code === 'DRAINING') {
            if (!settled) {
              done();
              reject(error);
            }
            return;
          }
          if (dequeue.signal.aborted && !overran) return;
          const reason = overran
            ? `solver worker overran ${deadlineText(task.timeLimitMs)} and was replaced`
            : `solver worker failed: ${error instanceof Error ? error.message : String(error)}`;
          answer(reason);
          options.onWorkerRestart?.(reason);
        },
      );
    });
  }

  return {
    concurrency: size,
    run,
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

const formatMs = (ms: number): string => String(Math.round(ms * 10) / 10);
