/**
 * Worker threads for the work the service keeps off its event loop, on piscina: solving layers
 * (solver-pool.ts) and reading large bodies (src/http/body-pool.ts) are two pools of this one
 * module. Piscina starts, replaces (after a crash, an exit or an abort of a running task) and stops
 * the threads, caps their heap and transfers buffers; p-queue in front admits `threads` tasks at
 * once and holds at most `maxQueued` more, so that a pool may keep warm spare threads beside its
 * busy ones (a spare takes over at once from a thread that is stopped) and a caller can take a task
 * out of the queue. Two pools rather than one: heap limits are per pool, and a body must not wait
 * behind a layer that solves for seconds.
 */
import type { TransferListItem } from 'node:worker_threads';
import PQueue from 'p-queue';
import { Piscina } from 'piscina';
import { HplbError } from '../errors.ts';
import { deserializeHplbError, PROGRESS, READY, STARTED, type Envelope, type TaskAnswer } from './worker-thread.ts';

/** The URL of a worker module beside `base` (an import.meta.url): .ts under tsx, .js in the build. */
export function workerEntry(base: string, name: string): URL {
  return new URL(`./${name}.${base.endsWith('.ts') ? 'ts' : 'js'}`, base);
}

export interface WorkerPoolOptions {
  /** The worker module (workerEntry): its default export, or a promise of it, answers each task. */
  readonly entry: URL;
  /** Tasks run at once. */
  readonly threads: number;
  /** Idle threads kept started beside them; default 0. */
  readonly spares?: number;
  /** Tasks that may wait for a thread; beyond, run() rejects with `queueFull()`. Default: no limit. */
  readonly maxQueued?: number;
  readonly queueFull?: () => Error;
  /** Old-generation heap of each thread, MB; a task that needs more fails with ERR_WORKER_OUT_OF_MEMORY. */
  readonly maxHeapMb?: number;
  /** Passed to every thread as workerData.data. */
  readonly data?: unknown;
}

export interface TaskOptions {
  /** Takes the task out of the queue while it waits (run() then rejects); no effect once it runs. */
  readonly dequeue?: AbortSignal;
  /** Date.now() past which a thread does not begin the task: run() then resolves undefined. */
  readonly expiresAt?: number;
  /** ms a task may run once its thread has begun it: past them the thread is terminated (piscina replaces it) and run() rejects with TaskOverrun. */
  readonly runLimitMs?: number;
  /** Buffers moved to the thread rather than copied. */
  readonly transfer?: readonly TransferListItem[];
  /** Called when a thread begins the task (its worker module's serveTasks says so). */
  readonly started?: () => void;
  /** Called with each progress report the task's worker sends (serveTasks' `report`). */
  readonly progress?: (report: unknown) => void;
}

/** run()'s rejection when the task threw something other than an HplbError (its thread lives on). */
export class TaskThrew extends Error {
  constructor(
    message: string,
    readonly threadStack?: string,
  ) {
    super(message);
  }
}

/** run()'s rejection when a task ran past its runLimitMs and its thread was stopped. */
export class TaskOverrun extends Error {
  constructor(readonly limitMs: number) {
    super(`the task ran past its limit of ${limitMs} ms; its thread was stopped`);
  }
}

export interface WorkerPool {
  /**
   * The task's value (worker-thread.ts); rejects with the HplbError the task threw, TaskThrew for
   * anything else it threw, TaskOverrun, DRAINING on close, or the error its thread died of.
   */
  run<T>(task: unknown, options?: TaskOptions): Promise<T>;
  /** Resolves once every thread (spares and replacements too) has set up; rejects when one fails while setting up. */
  ready(): Promise<void>;
  /** A thread has set up, and the pool is open: threads being replaced leave it ready. */
  isReady(): boolean;
  /** The set-up failure, once a thread has failed before any was ready. */
  readonly failed: Error | null;
  /** Tasks waiting for a thread, and tasks running. */
  readonly queued: number;
  readonly running: number;
  /** Stops every thread; waiting, running and later tasks reject with DRAINING. */
  close(): Promise<void>;
}

/** Piscina with `size` threads kept started, on the worker module (through ts-worker.mjs under tsx). */
function startPiscina(options: WorkerPoolOptions, size: number): Piscina {
  // Node 20 does not apply tsx's hooks to worker threads: ts-worker.mjs registers them in the thread.
  const underTsx = options.entry.pathname.endsWith('.ts');
  return new Piscina({
    filename: underTsx ? new URL('./ts-worker.mjs', import.meta.url).href : options.entry.href,
    workerData: { entry: options.entry.href, data: options.data },
    minThreads: size,
    maxThreads: size,
    idleTimeout: Number.POSITIVE_INFINITY,
    ...(options.maxHeapMb ? { resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb } } : {}),
  });
}

/** A dispatched task's hooks, by id: its thread's STARTED and PROGRESS messages reach them. */
interface Hooks {
  readonly options: TaskOptions;
  overrun?: NodeJS.Timeout;
  /** The task ran past its runLimitMs and its thread was terminated (piscina replaces it). */
  overran?: true;
}

function routeMessages(piscina: Piscina, hooks: Map<number, Hooks>): void {
  piscina.on('message', (message: unknown) => {
    if (typeof message !== 'object' || message === null) return;
    const record = message as Record<string, unknown>;
    const progressOf = record[PROGRESS];
    if (typeof progressOf === 'number') {
      hooks.get(progressOf)?.options.progress?.(record.progress);
      return;
    }
    const started = hooks.get(record[STARTED] as number);
    if (!started) return;
    started.options.started?.();
    const limit = started.options.runLimitMs;
    if (limit === undefined) return;
    // The thread is ended directly rather than through an abort signal per task (each cost an
    // AbortController, its signal and piscina's listener on it, for every task).
    started.overrun = setTimeout(() => {
      started.overran = true;
      void piscina.threads.find((thread) => thread.threadId === record.thread)?.terminate();
    }, limit);
  });
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const size = options.threads + (options.spares ?? 0);
  const piscina = startPiscina(options, size);
  const queue = new PQueue({ concurrency: options.threads });
  const readiness = trackReadiness(piscina, size);
  const hooks = new Map<number, Hooks>();
  routeMessages(piscina, hooks);
  let nextId = 0;
  let closed = false;

  async function run<T>(task: unknown, taskOptions: TaskOptions = {}): Promise<T> {
    if (closed) throw draining();
    if (options.maxQueued !== undefined && queue.pending >= options.threads && queue.size >= options.maxQueued)
      throw options.queueFull?.() ?? new HplbError('QUEUE_FULL', 'the worker queue is full; retry later');
    const { dequeue, transfer = [], expiresAt } = taskOptions;
    const id = nextId++;
    const envelope: Envelope<unknown> = { id, task, ...(expiresAt !== undefined ? { expiresAt } : {}) };
    // p-queue settles a job at its signal even once the job runs (and stops counting it as running):
    // only a job still in its queue may leave it.
    let dispatched = false;
    const leave = dequeue && new AbortController();
    dequeue?.addEventListener('abort', () => dispatched || leave?.abort(), { once: true });
    const job = (): Promise<T> => {
      dispatched = true;
      // Jobs still queued at close() are run at once and refused here, so p-queue settles them all.
      if (closed) throw draining();
      return dispatch<T>(piscina, hooks, { id, envelope, options: taskOptions, transfer });
    };
    try {
      return await queue.add(job, leave ? { signal: leave.signal } : {});
    } catch (error) {
      throw closed ? draining() : error;
    }
  }

  return {
    run,
    ready: () => (closed ? Promise.reject(draining()) : readiness.ready()),
    isReady: () => !closed && readiness.everReady(),
    get failed() {
      return readiness.failed();
    },
    get queued() {
      return queue.size;
    },
    get running() {
      return queue.pending;
    },
    async close() {
      if (closed) return;
      closed = true;
      readiness.close(draining());
      await piscina.destroy();
    },
  };
}

/** Runs a task on a thread; its STARTED and PROGRESS messages reach its hooks meanwhile. */
async function dispatch<T>(
  piscina: Piscina,
  hooks: Map<number, Hooks>,
  {
    id,
    envelope,
    options,
    transfer,
  }: { id: number; envelope: Envelope<unknown>; options: TaskOptions; transfer: readonly TransferListItem[] },
): Promise<T> {
  const own: Hooks = { options };
  hooks.set(id, own);
  try {
    const answer: TaskAnswer = await piscina.run(envelope, { transferList: [...transfer] });
    if ('value' in answer) return answer.value as T;
    throw 'error' in answer ? deserializeHplbError(answer.error) : new TaskThrew(answer.threw, answer.stack);
  } catch (error) {
    throw own.overran ? new TaskOverrun(options.runLimitMs ?? 0) : error;
  } finally {
    clearTimeout(own.overrun);
    hooks.delete(id);
  }
}

const draining = (): HplbError => new HplbError('DRAINING', 'the service is shutting down; retry on another instance');

/**
 * Which threads have set up: each announces itself (announceReady), and the pool is ready when
 * every live thread has; a thread failing before any was ready is a start failure.
 */
function trackReadiness(piscina: Piscina, size: number) {
  const announced = new Set<number>();
  const allReady = (): boolean =>
    piscina.threads.length >= size && piscina.threads.every((thread) => announced.has(thread.threadId));
  const waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  let failed: Error | null = null;
  piscina.on('message', (message: unknown) => {
    const id = (message as Record<string, unknown> | null)?.[READY];
    if (typeof id !== 'number') return;
    announced.add(id);
    if (allReady()) for (const w of waiters.splice(0)) w.resolve();
  });
  // Emitted for a thread that fails with no task of its own: while setting up, or idle.
  piscina.on('error', (error: Error) => {
    if (announced.size > 0) return;
    failed ??= new HplbError('INTERNAL', `worker thread failed to start: ${error.message}`);
    for (const w of waiters.splice(0)) w.reject(failed);
  });
  return {
    ready(): Promise<void> {
      if (failed) return Promise.reject(failed);
      if (allReady()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
      });
    },
    everReady: () => announced.size > 0,
    failed: () => failed,
    close(error: Error): void {
      for (const w of waiters.splice(0)) w.reject(error);
    },
  };
}
