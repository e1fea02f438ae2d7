/**
 * A pool of worker threads that solve layer tasks off the main thread (GLPK's solve is
 * synchronous), with a hard deadline per task, counted from when the task is queued. Whatever
 * goes wrong in a worker (overrun, crash, an unexpected throw), the task still gets an answer at
 * its deadline at the latest: greedy, computed on the calling thread, with status
 * 'greedy_fallback' and the reason. Only errors in the problem itself reject. Warm spare workers
 * take over at once from a worker that is replaced, so the next tasks do not wait for a new
 * worker to load GLPK; the spare is replaced in the background.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { HplbError } from '../errors.ts';
import type { LayerOutcome, LayerRunner, LayerTask, RunOptions } from '../planner/layer-task.ts';
import { createCutAnswerer, fallback, release, type Job } from './pool-job.ts';
import { deserializeHplbError, type TaskMessage, type WorkerMessage } from './protocol.ts';
import { defaultWorkerFile, startWorker } from './worker-start.ts';

/** Times a worker may fail to start in a row (before posting `ready`) before its slot is given up. */
const MAX_START_ATTEMPTS = 3;

export interface SolverPoolOptions {
  /** Workers; default os.availableParallelism() (one per core). */
  readonly size?: number;
  /** Warm workers kept beside them to replace one at once; default 0. */
  readonly spares?: number;
  /**
   * Extra ms past a task's own timeLimitMs (ms), counted from when it was queued, before it is
   * answered by greedy (its worker, when it has one, is considered stuck, terminated and
   * replaced); default 10% of the limit + 50 ms.
   */
  readonly graceMs?: (timeLimitMs: number) => number;
  /** Extra ms past a plan's time limit before its unanswered tasks are ended (LayerRunner.planGraceMs); default 0. */
  readonly planGraceMs?: (timeLimitMs: number) => number;
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
  /**
   * Queues the task (FIFO) and resolves with its outcome; rejects only for an HplbError in the
   * problem. When `signal` aborts first, the task is answered at once (its worker's progress, else
   * greedy) and its worker, if it has one, finishes or overruns on its own.
   */
  run(task: LayerTask, options?: RunOptions): Promise<LayerOutcome>;
  /** Tasks waiting for a worker. */
  readonly queueDepth: number;
  /** Tasks running on a worker. */
  readonly busy: number;
  /** Spare workers started and ready to take over. */
  readonly sparesReady: number;
  /** Resolves when every worker has loaded GLPK; rejects when a worker cannot start, or on close. */
  ready(): Promise<void>;
  /**
   * True once a worker has loaded GLPK, for as long as the pool has workers (ready, or being
   * replaced after an overrun or crash: tasks are answered by their deadline either way). False
   * before the first worker is ready, once every slot has given up starting, and after close().
   */
  isReady(): boolean;
  /** Terminates every worker; queued, running and later runs reject with HplbError('DRAINING'). */
  close(): Promise<void>;
}

interface Slot {
  /** Position in the pool; SPARE while the worker waits as a spare. */
  index: number;
  readonly worker: Worker;
  /** Workers of this slot that failed to start in a row before this one. */
  readonly startFailures: number;
  ready: boolean;
  job: Job | null;
  /** The running job's own limit + grace, from when it started: past it the worker is stuck. */
  timer: NodeJS.Timeout | null;
}

const SPARE = -1;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export const defaultGraceMs = (timeLimitMs: number): number => 0.1 * timeLimitMs + 50;

/** Creates the pool and starts its workers at once; call close() to let the process exit. */
export function createSolverPool(options: SolverPoolOptions = {}): SolverPool {
  const size = options.size ?? availableParallelism();
  if (!(Number.isInteger(size) && size >= 1))
    throw new HplbError('INTERNAL', `solver pool size must be an integer >= 1, got ${size}`);
  const spareCount = options.spares ?? 0;
  const graceMs = options.graceMs ?? defaultGraceMs;
  const workerFile = options.workerFile ?? defaultWorkerFile();

  /** [size] the live worker of each slot; null once a slot has given up starting. */
  const slots = new Array<Slot | null>(size).fill(null);
  const spares: Slot[] = [];
  const queue: Job[] = [];
  const waiters: Waiter[] = [];
  /** Exits of every worker not yet gone (live, terminating or dying), awaited by close(). */
  const exits = new Set<Promise<void>>();
  let nextId = 0;
  let startFailure: HplbError | null = null;
  let everReady = false;
  let closed = false;
  let closing: Promise<void> | null = null;
  const answerCut = createCutAnswerer();

  const isLive = (slot: Slot): boolean => slot.index !== SPARE && slots[slot.index] === slot;
  const allReady = (): boolean => slots.every((s) => s?.ready === true);
  const draining = (): HplbError => new HplbError('DRAINING', 'the solver pool is closed');

  function spawn(index: number, startFailures: number): void {
    const slot: Slot = { index, worker: startWorker(workerFile), startFailures, ready: false, job: null, timer: null };
    if (index === SPARE) spares.push(slot);
    else slots[index] = slot;
    const exit = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
    exits.add(exit);
    void exit.then(() => exits.delete(exit));
    slot.worker.on('message', (message: WorkerMessage) => onMessage(slot, message));
    slot.worker.on('error', (error) => onDeath(slot, `solver worker crashed: ${error.message}`));
    slot.worker.on('exit', (code) => onDeath(slot, `solver worker exited with code ${code}`));
    slot.worker.on('messageerror', (error) => {
      if (isLive(slot) && slot.job)
        finish(slot, (job) => fallback(job, `solver worker's answer could not be read: ${error.message}`));
    });
  }

  function onMessage(slot: Slot, message: WorkerMessage): void {
    if (message.type === 'ready' && spares.includes(slot)) {
      slot.ready = true;
      return;
    }
    if (!isLive(slot)) return;
    if (message.type === 'ready') {
      slot.ready = true;
      everReady = true;
      if (allReady()) waiters.splice(0).forEach((w) => w.resolve());
      dispatch();
      return;
    }
    if (slot.job?.id !== message.id) return;
    if (message.type === 'progress') slot.job.progress = message.progress;
    else if (message.type === 'done') finish(slot, (job) => job.resolve(message.outcome));
    else if (message.type === 'rejected') finish(slot, (job) => job.reject(deserializeHplbError(message.error)));
    else finish(slot, (job) => fallback(job, `solver worker threw: ${message.message}`));
  }

  /** A worker died on its own (error or exit event): answer its job, replace it. */
  function onDeath(slot: Slot, reason: string): void {
    if (closed) return;
    const startFailures = slot.ready ? 0 : slot.startFailures + 1;
    const spareAt = spares.indexOf(slot);
    if (spareAt >= 0) {
      // A spare that keeps failing to start is not replaced: the pool works without spares.
      spares.splice(spareAt, 1);
      if (startFailures < MAX_START_ATTEMPTS) spawn(SPARE, startFailures);
      return;
    }
    if (!isLive(slot)) return;
    const job = takeJob(slot);
    const restart = startFailures < MAX_START_ATTEMPTS;
    if (restart) replace(slot.index, startFailures);
    else giveUp(slot, reason);
    if (job) fallback(job, reason);
    dispatch();
    if (restart) options.onWorkerRestart?.(reason);
  }

  /** Fills a slot with a ready spare (and starts a new spare), or else with a new worker. */
  function replace(index: number, startFailures: number): void {
    const spare = spares.find((s) => s.ready);
    if (!spare) {
      spawn(index, startFailures);
      return;
    }
    spares.splice(spares.indexOf(spare), 1);
    spare.index = index;
    slots[index] = spare;
    spawn(SPARE, 0);
  }

  /**
   * A job reached its deadline (from when it was queued): it is answered now. A queued job leaves
   * the queue; a running one keeps its worker, which is replaced only if it overruns its own slice.
   */
  function onDeadline(job: Job): void {
    job.timer = null;
    const queued = queue.indexOf(job);
    if (queued >= 0) {
      queue.splice(queued, 1);
      fallback(job, `the task waited for a solver worker past ${deadlineText(job.task.timeLimitMs)}`);
      return;
    }
    fallback(job, `the task passed ${deadlineText(job.task.timeLimitMs)} while its worker was still solving it`);
  }

  /**
   * The caller's deadline passed (the plan's): answered now. A running job keeps its worker, which
   * either answers (ignored) or is replaced when it overruns the job's own slice.
   */
  function onAbort(job: Job): void {
    const queued = queue.indexOf(job);
    if (queued >= 0) queue.splice(queued, 1);
    const where = queued >= 0 ? 'waited for a solver worker' : 'was still being solved';
    fallback(job, `the plan reached its deadline while this layer ${where}`);
  }

  /** The running task passed its own limit + grace: the worker is stuck in the solver, so a spare (or a new worker) replaces it. */
  function onOverrun(slot: Slot): void {
    if (!isLive(slot) || !slot.job) return;
    const reason = `solver worker overran ${deadlineText(slot.job.task.timeLimitMs)} and was replaced`;
    const job = takeJob(slot);
    retire(slot);
    replace(slot.index, 0);
    if (job) fallback(job, reason);
    dispatch();
    options.onWorkerRestart?.(reason);
  }

  function deadlineText(timeLimitMs: number): string {
    const grace = graceMs(timeLimitMs);
    return `its deadline of ${formatMs(timeLimitMs + grace)} ms (time limit ${formatMs(timeLimitMs)} ms + grace ${formatMs(grace)} ms)`;
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
    slot.job = job;
    job.startedAt = performance.now();
    slot.timer = setTimeout(() => onOverrun(slot), job.task.timeLimitMs + graceMs(job.task.timeLimitMs));
    try {
      slot.worker.postMessage({ id: job.id, task: job.task } satisfies TaskMessage);
    } catch (error) {
      finish(slot, (j) =>
        fallback(
          j,
          `task could not be sent to the solver worker: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
    }
  }

  /** Frees the slot from its job, settles the job, and hands the slot the next one. */
  function finish(slot: Slot, settle: (job: Job) => void): void {
    const job = takeJob(slot);
    if (job && !job.settled) {
      settle(job);
      job.settled = true;
    }
    dispatch();
  }

  function takeJob(slot: Slot): Job | null {
    const job = slot.job;
    slot.job = null;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    if (job) release(job);
    return job;
  }

  function retire(slot: Slot): void {
    if (isLive(slot)) slots[slot.index] = null;
    void slot.worker.terminate();
  }

  function run(task: LayerTask, options: RunOptions = {}): Promise<LayerOutcome> {
    if (closed) return Promise.reject(draining());
    const { signal } = options;
    return new Promise<LayerOutcome>((resolve, reject) => {
      const job: Job = {
        id: nextId++,
        task,
        resolve,
        reject,
        timer: null,
        unlisten: null,
        settled: false,
        progress: null,
        startedAt: 0,
      };
      if (signal?.aborted) answerCut(job, 'the plan reached its deadline before this layer was started');
      else if (slots.every((s) => s === null)) fallback(job, startFailure?.message ?? 'no solver worker is running');
      else {
        if (signal) {
          const abort = (): void => onAbort(job);
          signal.addEventListener('abort', abort, { once: true });
          job.unlisten = () => signal.removeEventListener('abort', abort);
        }
        job.timer = setTimeout(() => onDeadline(job), task.timeLimitMs + graceMs(task.timeLimitMs));
        queue.push(job);
        dispatch();
      }
    });
  }

  function close(): Promise<void> {
    if (closing) return closing;
    closed = true;
    const error = draining();
    queue.splice(0).forEach((job) => {
      release(job);
      job.reject(error);
    });
    waiters.splice(0).forEach((w) => w.reject(error));
    for (const slot of [...slots, ...spares.splice(0)]) {
      if (!slot) continue;
      takeJob(slot)?.reject(error);
      retire(slot);
    }
    closing = Promise.all([...exits]).then(() => undefined);
    return closing;
  }

  for (let i = 0; i < size; i++) spawn(i, 0);
  for (let i = 0; i < spareCount; i++) spawn(SPARE, 0);

  return {
    concurrency: size,
    run,
    get queueDepth() {
      return queue.length;
    },
    get busy() {
      return slots.filter((s) => s?.job).length;
    },
    get sparesReady() {
      return spares.filter((s) => s.ready).length;
    },
    ready: () => {
      if (closed) return Promise.reject(draining());
      if (startFailure) return Promise.reject(startFailure);
      if (allReady()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
      });
    },
    isReady: () => !closed && everReady && slots.some((s) => s !== null),
    planGraceMs: options.planGraceMs ?? (() => 0),
    close,
  };
}

const formatMs = (ms: number): string => String(Math.round(ms * 10) / 10);
