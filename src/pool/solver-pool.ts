/**
 * A pool of worker threads that solve layer tasks off the main thread (GLPK's solve is
 * synchronous), with a hard deadline per task. Whatever goes wrong in a worker (overrun, crash,
 * an unexpected throw), the task still gets an answer: after an overrun, the best placement the
 * engine reported before it (status by its gap); otherwise greedy, computed on the calling thread,
 * with status 'greedy_fallback' and the reason. Only errors in the problem itself reject.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HplbError } from '../errors.ts';
import { greedyFallback, progressOutcome, type LayerOutcome, type LayerRunner, type LayerTask, type TaskProgress } from '../planner/layer-task.ts';
import { deserializeHplbError, type TaskMessage, type WorkerMessage } from './protocol.ts';

/** Times a worker may fail to start in a row (before posting `ready`) before its slot is given up. */
const MAX_START_ATTEMPTS = 3;

export interface SolverPoolOptions {
  /** Workers; default os.availableParallelism() (one per core). */
  readonly size?: number;
  /**
   * Extra ms past a task's own timeLimitMs (ms) before its worker is considered stuck, terminated
   * and replaced; default 10% of the limit + 50 ms.
   */
  readonly graceMs?: (timeLimitMs: number) => number;
  /**
   * Hook for metrics/logs: called on every worker restart with the reason, after the affected task
   * is answered. It runs in an event handler, so it must not throw.
   */
  readonly onWorkerRestart?: (reason: string) => void;
  /**
   * Worker entry to run instead of solver-worker (tests point this at fixtures). A `.ts` file is
   * run through tsx; anything else is loaded by Node as is.
   */
  readonly workerFile?: URL;
}

export interface SolverPool extends LayerRunner {
  /** Number of workers. */
  readonly concurrency: number;
  /** Queues the task (FIFO) and resolves with its outcome; rejects only for an HplbError in the problem. */
  run(task: LayerTask): Promise<LayerOutcome>;
  /** Tasks waiting for a worker. */
  readonly queueDepth: number;
  /** Tasks running on a worker. */
  readonly busy: number;
  /** Resolves when every worker has loaded GLPK; rejects when a worker cannot start, or on close. */
  ready(): Promise<void>;
  /** True while every worker has GLPK loaded (false for a moment while a replaced worker starts). */
  isReady(): boolean;
  /** Terminates every worker; queued, running and later runs reject with HplbError('DRAINING'). */
  close(): Promise<void>;
}

interface Job {
  readonly id: number;
  readonly task: LayerTask;
  readonly resolve: (outcome: LayerOutcome) => void;
  readonly reject: (error: unknown) => void;
}

interface Slot {
  readonly index: number;
  readonly worker: Worker;
  /** Workers of this slot that failed to start in a row before this one. */
  readonly startFailures: number;
  ready: boolean;
  job: Job | null;
  /** Deadline of the running job. */
  timer: NodeJS.Timeout | null;
  /** The running job's last progress report, and when the job started (performance.now). */
  progress: TaskProgress | null;
  startedAt: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export const defaultGraceMs = (timeLimitMs: number): number => 0.1 * timeLimitMs + 50;

/** Creates the pool and starts its workers at once; call close() to let the process exit. */
export function createSolverPool(options: SolverPoolOptions = {}): SolverPool {
  const size = options.size ?? availableParallelism();
  if (!(Number.isInteger(size) && size >= 1)) throw new HplbError('INTERNAL', `solver pool size must be an integer >= 1, got ${size}`);
  const graceMs = options.graceMs ?? defaultGraceMs;
  const workerFile = options.workerFile ?? defaultWorkerFile();

  /** [size] the live worker of each slot; null once a slot has given up starting. */
  const slots = new Array<Slot | null>(size).fill(null);
  const queue: Job[] = [];
  const waiters: Waiter[] = [];
  /** Exits of every worker not yet gone (live, terminating or dying), awaited by close(). */
  const exits = new Set<Promise<void>>();
  let nextId = 0;
  let startFailure: HplbError | null = null;
  let closed = false;
  let closing: Promise<void> | null = null;

  const isLive = (slot: Slot): boolean => slots[slot.index] === slot;
  const allReady = (): boolean => slots.every((s) => s?.ready === true);
  const draining = (): HplbError => new HplbError('DRAINING', 'the solver pool is closed');

  function spawn(index: number, startFailures: number): void {
    const slot: Slot = { index, worker: startWorker(workerFile), startFailures, ready: false, job: null, timer: null, progress: null, startedAt: 0 };
    slots[index] = slot;
    const exit = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
    exits.add(exit);
    void exit.then(() => exits.delete(exit));
    slot.worker.on('message', (message: WorkerMessage) => onMessage(slot, message));
    slot.worker.on('error', (error) => onDeath(slot, `solver worker crashed: ${error.message}`));
    slot.worker.on('exit', (code) => onDeath(slot, `solver worker exited with code ${code}`));
    slot.worker.on('messageerror', (error) => {
      if (isLive(slot) && slot.job) finish(slot, (job) => fallback(job, `solver worker's answer could not be read: ${error.message}`));
    });
  }

  function onMessage(slot: Slot, message: WorkerMessage): void {
    if (!isLive(slot)) return;
    if (message.type === 'ready') {
      slot.ready = true;
      if (allReady()) waiters.splice(0).forEach((w) => w.resolve());
      dispatch();
      return;
    }
    if (slot.job?.id !== message.id) return;
    if (message.type === 'progress') slot.progress = message.progress;
    else if (message.type === 'done') finish(slot, (job) => job.resolve(message.outcome));
    else if (message.type === 'rejected') finish(slot, (job) => job.reject(deserializeHplbError(message.error)));
    else finish(slot, (job) => fallback(job, `solver worker threw: ${message.message}`));
  }

  /** A worker died on its own (error or exit event): answer its job, replace it. */
  function onDeath(slot: Slot, reason: string): void {
    if (!isLive(slot) || closed) return;
    const job = takeJob(slot);
    const startFailures = slot.ready ? 0 : slot.startFailures + 1;
    const restart = startFailures < MAX_START_ATTEMPTS;
    if (restart) spawn(slot.index, startFailures);
    else giveUp(slot, reason);
    if (job) fallback(job, reason);
    dispatch();
    if (restart) options.onWorkerRestart?.(reason);
  }

  /** The running task passed its deadline: the worker is stuck in the solver, so it is replaced. */
  function onOverrun(slot: Slot): void {
    if (!isLive(slot) || !slot.job) return;
    const { timeLimitMs } = slot.job.task;
    const grace = graceMs(timeLimitMs);
    const reason = `solver worker overran its deadline of ${formatMs(timeLimitMs + grace)} ms (time limit ${formatMs(timeLimitMs)} ms + grace ${formatMs(grace)} ms) and was replaced`;
    const { progress, startedAt } = slot;
    const job = takeJob(slot);
    retire(slot);
    spawn(slot.index, 0);
    // What the engine reported before it overran beats greedy: keep it.
    if (job && progress) job.resolve(progressOutcome(job.task, progress, performance.now() - startedAt));
    else if (job) fallback(job, reason);
    dispatch();
    options.onWorkerRestart?.(reason);
  }

  /** A slot whose workers keep failing to start: stop respawning, and say so to ready(). */
  function giveUp(slot: Slot, reason: string): void {
    slots[slot.index] = null;
    startFailure ??= new HplbError('INTERNAL', `solver worker failed to start ${MAX_START_ATTEMPTS} times: ${reason}`);
    waiters.splice(0).forEach((w) => w.reject(startFailure));
    // With no worker left, queued tasks would wait forever: greedy answers them.
    if (slots.every((s) => s === null)) queue.splice(0).forEach((job) => fallback(job, startFailure!.message));
  }

  function dispatch(): void {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (slot?.ready && !slot.job) start(slot, queue.shift()!);
    }
  }

  function start(slot: Slot, job: Job): void {
    const limit = job.task.timeLimitMs + graceMs(job.task.timeLimitMs);
    slot.job = job;
    slot.progress = null;
    slot.startedAt = performance.now();
    slot.timer = setTimeout(() => onOverrun(slot), limit);
    try {
      slot.worker.postMessage({ id: job.id, task: job.task } satisfies TaskMessage);
    } catch (error) {
      finish(slot, (j) => fallback(j, `task could not be sent to the solver worker: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  /** Frees the slot from its job, settles the job, and hands the slot the next one. */
  function finish(slot: Slot, settle: (job: Job) => void): void {
    const job = takeJob(slot);
    if (job) settle(job);
    dispatch();
  }

  function takeJob(slot: Slot): Job | null {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const job = slot.job;
    slot.job = null;
    slot.progress = null;
    return job;
  }

  function retire(slot: Slot): void {
    if (isLive(slot)) slots[slot.index] = null;
    void slot.worker.terminate();
  }

  function run(task: LayerTask): Promise<LayerOutcome> {
    if (closed) return Promise.reject(draining());
    return new Promise<LayerOutcome>((resolve, reject) => {
      const job: Job = { id: nextId++, task, resolve, reject };
      if (slots.every((s) => s === null)) fallback(job, startFailure?.message ?? 'no solver worker is running');
      else {
        queue.push(job);
        dispatch();
      }
    });
  }

  function close(): Promise<void> {
    if (closing) return closing;
    closed = true;
    const error = draining();
    queue.splice(0).forEach((job) => job.reject(error));
    waiters.splice(0).forEach((w) => w.reject(error));
    for (const slot of slots) {
      if (!slot) continue;
      takeJob(slot)?.reject(error);
      retire(slot);
    }
    closing = Promise.all([...exits]).then(() => undefined);
    return closing;
  }

  for (let i = 0; i < size; i++) spawn(i, 0);

  return {
    concurrency: size,
    run,
    get queueDepth() { return queue.length; },
    get busy() { return slots.filter((s) => s?.job).length; },
    ready: () => {
      if (closed) return Promise.reject(draining());
      if (startFailure) return Promise.reject(startFailure);
      if (allReady()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => { waiters.push({ resolve, reject }); });
    },
    isReady: () => !closed && allReady(),
    close,
  };
}

/** Answers a job with greedy on the calling thread; rejects only when greedy itself cannot place it. */
function fallback(job: Job, reason: string): void {
  try {
    job.resolve(greedyFallback(job.task, reason));
  } catch (error) {
    job.reject(error);
  }
}

/** solver-worker next to this module: .ts under tsx (tests, dev), .js in the tsc build (dist/). */
function defaultWorkerFile(): URL {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./solver-worker.${extension}`, import.meta.url);
}

/**
 * Starts a worker on a file. Node 20 ignores loader flags such as `--import tsx` in a worker's
 * execArgv (nodejs/node#47747), so a .ts entry is started by a small bootstrap that registers
 * tsx inside the worker and then imports the file.
 */
function startWorker(file: URL): Worker {
  if (!file.pathname.endsWith('.ts')) return new Worker(file);
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); });`;
  return new Worker(bootstrap, { eval: true });
}

const formatMs = (ms: number): string => String(Math.round(ms * 10) / 10);
