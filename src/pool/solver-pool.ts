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
    run: (task, { signal } = {}) =>
      new Promise((resolve, reject) => new SolverJob(settings, task, resolve, reject).send(signal)),
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
class SolverJob {
  private readonly queuedAt = performance.now();
  private readonly limitMs: number;
  private readonly dequeue = new AbortController();
  private progress: TaskProgress | null = null;
  private startedAt: number | null = null;
  private settled = false;
  private deadline: NodeJS.Timeout | undefined;
  private signal: AbortSignal | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly task: LayerTask,
    private readonly resolve: (outcome: LayerOutcome) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.limitMs = task.timeLimitMs + settings.graceMs(task.timeLimitMs);
  }

  /** Queues the task, unless it is due already or no worker could start: then it is answered at once. */
  send(signal: AbortSignal | undefined): void {
    const { pool } = this.settings;
    if (signal?.aborted) this.answer('the plan reached its deadline before this layer was started');
    else if (pool.failed) this.answer(pool.failed.message);
    if (this.settled) return;
    this.signal = signal;
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.deadline = setTimeout(this.onDeadline, this.limitMs);
    pool
      .run<LayerOutcome | undefined>(this.task, {
        dequeue: this.dequeue.signal,
        // A task still waiting at its deadline is answered then; a thread that reaches it later skips it.
        expiresAt: Date.now() + this.limitMs,
        runLimitMs: this.limitMs,
        started: () => {
          this.startedAt = performance.now();
        },
        progress: (report) => {
          this.progress = report as TaskProgress;
        },
      })
      .then(this.onReply, this.onFailure);
  }

  private readonly onAbort = (): void => {
    const where = this.startedAt === null ? 'waited for a solver worker' : 'was still being solved';
    this.answer(`the plan reached its deadline while this layer ${where}`);
  };

  private readonly onDeadline = (): void => {
    const deadline = this.deadlineText();
    this.answer(
      this.startedAt === null
        ? `the task waited for a solver worker past ${deadline}`
        : `the task passed ${deadline} while its worker was still solving it`,
    );
  };

  private readonly onReply = (outcome: LayerOutcome | undefined): void => {
    // undefined: the task expired before a thread reached it (it was answered then).
    if (this.settled || outcome === undefined) return;
    this.settle();
    this.resolve(outcome);
  };

  private readonly onFailure = (error: unknown): void => {
    // The problem itself is wrong, or the pool is closing: the caller must see it.
    if (error instanceof HplbError) {
      if (this.settled) return;
      this.settle();
      this.reject(error);
      return;
    }
    if (error instanceof TaskThrew) {
      this.answer(`solver worker threw: ${error.message}`);
      return;
    }
    const overran = error instanceof TaskOverrun;
    // Taken out of the queue because it was answered already.
    if (this.dequeue.signal.aborted && !overran) return;
    const reason = overran
      ? `solver worker overran ${this.deadlineText()} and was replaced`
      : `solver worker failed: ${error instanceof Error ? error.message : String(error)}`;
    this.answer(reason);
    this.settings.onWorkerRestart(reason);
  };

  /** Answers without the worker: with its reported progress, else greedy a turn later (one greedy per turn). */
  private answer(reason: string): void {
    if (this.settled) return;
    this.settle();
    if (this.startedAt === null) this.dequeue.abort();
    const { task, progress } = this;
    if (progress) {
      this.resolve(progressOutcome(task, progress, performance.now() - (this.startedAt ?? this.queuedAt), reason));
      return;
    }
    setImmediate(() => {
      try {
        this.resolve(greedyFallback(task, reason));
      } catch (error) {
        this.reject(error);
      }
    });
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.deadline);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  private deadlineText(): string {
    const limit = this.task.timeLimitMs;
    const grace = this.settings.graceMs(limit);
    return `its deadline of ${formatMs(limit + grace)} ms (time limit ${formatMs(limit)} ms + grace ${formatMs(grace)} ms)`;
  }
}

const formatMs = (ms: number): string => String(Math.round(ms * 10) / 10);
