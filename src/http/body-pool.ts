/**
 * A small pool of body workers (body-worker.ts): large request bodies are parsed, validated and
 * normalised there, so that the event loop never spends time that grows with a body. Bounded
 * three ways against hostile bodies: at most `maxQueued` bodies wait (503 QUEUE_FULL beyond), one
 * body may take at most `timeLimitMs` and a worker's heap is capped (the worker is then replaced
 * and the request refused with 422 PROBLEM_TOO_LARGE).
 *
 * Hand-written rather than piscina or workerpool: a worker on a .ts file needs the tsx bootstrap
 * of worker-start.ts under Node 20, and what is needed beyond it (a queue cap, a per-job time
 * limit that replaces the worker) is a few lines.
 */
import type { Worker } from 'node:worker_threads';
import type { HeadCounts } from '../apply/head-order.ts';
import { HplbError } from '../errors.ts';
import { DEFAULT_LIMITS, type RequestLimits } from '../planner/limits.ts';
import type { NormalisedRequest } from '../planner/request.ts';
import { startWorker } from '../pool/worker-start.ts';
import { fromWireError, type BodyOutcome, type BodyReply, type BodyRequest, type BodyWorkerData } from './body-work.ts';
import type { JsonAnswer } from './json-answer.ts';

/** The request bounds out of a configuration (only they travel to the workers). */
export function requestLimitsOf(config: RequestLimits): RequestLimits {
  const keys = Object.keys(DEFAULT_LIMITS) as (keyof RequestLimits)[];
  return Object.fromEntries(keys.map((key) => [key, config[key]])) as unknown as RequestLimits;
}

export interface BodyPoolOptions {
  readonly size: number;
  readonly maxQueued: number;
  readonly timeLimitMs: number;
  readonly data: BodyWorkerData;
  /** Heap of one worker, MB; a body that needs more is refused. */
  readonly maxHeapMb?: number;
  /** The worker's entry; body-worker.ts next to this module by default. */
  readonly workerFile?: URL;
  readonly onWorkerRestart?: (reason: string) => void;
  /**
   * Size of the staging buffers bodies are read into (stage()), normally MAX_BODY_BYTES; 0 or
   * absent: none. A staging buffer goes to the worker with its body and comes back with the
   * answer, so its memory is reused: a fresh megabyte took 4 ms to fill on the 2-core machine
   * (the first touch of every page), 20 ms under load, against 0.05 ms for one used before.
   */
  readonly stagingBytes?: number;
}

export interface BodyPool {
  /**
   * A buffer of `length` bytes to read a body into: in a staging buffer used before when one is
   * free, a fresh one past the staging size.
   */
  stage(length: number): Buffer;
  /** Staging buffers waiting for their next body. */
  readonly freeStaging: number;
  /** The normalised plan request of a body; throws the HplbError the body earns. */
  plan(bytes: Uint8Array): Promise<NormalisedRequest>;
  /** The budgets answer of a body, ready to send; throws the HplbError the body earns. */
  budgets(bytes: Uint8Array): Promise<JsonAnswer>;
  /** The ranks answer (rank-answer.ts) of a stored plan's bytes on a model with `counts`, ready to send. */
  ranks(planBytes: Uint8Array, counts: HeadCounts): Promise<JsonAnswer>;
  /** Resolves once every worker has started. */
  ready(): Promise<void>;
  /** Every worker has started once (a worker being replaced does not make the pool unready). */
  isReady(): boolean;
  /** Bodies waiting for a worker. */
  readonly queued: number;
  /** Workers handling a body. */
  readonly busy: number;
  /** Stops every worker; bodies still waiting are refused with DRAINING. */
  close(): Promise<void>;
}

interface Job {
  readonly request: BodyRequest;
  resolve(outcome: BodyOutcome): void;
  reject(error: Error): void;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  job: Job | null;
  timer?: NodeJS.Timeout;
}

const DEFAULT_HEAP_MB = 256;
/** Wait before replacing a worker that failed while starting, ms. */
const RESTART_DELAY_MS = 1000;

export function createBodyPool(options: BodyPoolOptions): BodyPool {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const file = options.workerFile ?? new URL(`./body-worker.${extension}`, import.meta.url);
  const queue: Job[] = [];
  const readyWaiters: (() => void)[] = [];
  let closing = false;
  let started = false;

  function spawn(): Slot {
    const worker = startWorker(file, {
      workerData: options.data,
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? DEFAULT_HEAP_MB },
    });
    const slot: Slot = { worker, ready: false, job: null };
    worker.on('message', (message: BodyReply | 'ready') => {
      if (message === 'ready') {
        slot.ready = true;
        if (slots.every((s) => s.ready)) {
          started = true;
          for (const wake of readyWaiters.splice(0)) wake();
        }
      } else {
        if (message.returned && free.length < maxFree) {
          issued.add(message.returned);
          free.push(message.returned);
        }
        finish(slot)?.resolve(message.outcome);
      }
      pump();
    });
    worker.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        const heap = options.maxHeapMb ?? DEFAULT_HEAP_MB;
        replace(slot, 'out of memory', refused(slot, `needed more than a body worker's ${heap} MB heap`, 'bodyMemory'));
      } else {
        replace(slot, `crashed: ${error.message}`, error);
      }
    });
    worker.on('exit', () => {
      if (!closing) replace(slot, 'exited', new Error('body worker exited'));
    });
    return slot;
  }

  const slots = Array.from({ length: options.size }, spawn);

  /** The slot's job, its timer cleared. */
  function finish(slot: Slot): Job | null {
    clearTimeout(slot.timer);
    const job = slot.job;
    slot.job = null;
    return job;
  }

  function replace(slot: Slot, reason: string, error: Error): void {
    const index = slots.indexOf(slot);
    if (index === -1) return;
    finish(slot)?.reject(error);
    slot.worker.removeAllListeners();
    // An error the dying worker still raises must not go unhandled.
    slot.worker.on('error', () => undefined);
    void slot.worker.terminate();
    if (closing) return;
    options.onWorkerRestart?.(`body worker ${reason}`);
    // A worker that failed before it started would fail again at once: its successor waits a second.
    const respawn = (): void => {
      if (closing) return;
      slots[index] = spawn();
      pump();
    };
    if (slot.ready) respawn();
    else setTimeout(respawn, RESTART_DELAY_MS).unref();
  }

  function pump(): void {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.ready || slot.job) continue;
      const job = queue.shift()!;
      slot.job = job;
      slot.timer = setTimeout(
        () =>
          replace(
            slot,
            'over its time limit',
            refused(slot, `took longer than BODY_TIME_LIMIT_MS (${options.timeLimitMs} ms)`, 'bodyTimeLimit'),
          ),
        options.timeLimitMs,
      );
      slot.worker.postMessage(job.request, [job.request.bytes.buffer as ArrayBuffer]);
    }
  }

  const stagingBytes = options.stagingBytes ?? 0;
  /** Staging buffers handed out (a body read into one is transferred as is) and those free again. */
  const issued = new WeakSet<ArrayBuffer>();
  const free: ArrayBuffer[] = [];
  const maxFree = options.size + options.maxQueued;

  function run(request: BodyRequest): Promise<BodyOutcome> {
    if (closing)
      return Promise.reject(new HplbError('DRAINING', 'the service is shutting down; retry on another instance'));
    const idle = slots.some((slot) => slot.ready && !slot.job);
    if (!idle && queue.length >= options.maxQueued) {
      return Promise.reject(
        new HplbError(
          'QUEUE_FULL',
          `${queue.length} large bodies are waiting for a body worker (limit ${options.maxQueued}, MAX_QUEUED_BODIES); retry later`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      // Transferred to the worker: a staging buffer or a buffer that is all of its ArrayBuffer goes
      // as is (large-body.ts reads bodies into such), a view into a larger one is copied first.
      const { bytes } = request;
      const staged = issued.has(bytes.buffer as ArrayBuffer);
      if (staged) issued.delete(bytes.buffer as ArrayBuffer);
      const owned = staged || (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength);
      const sent = { ...request, bytes: owned ? bytes : new Uint8Array(bytes), staged };
      queue.push({ request: sent, resolve, reject });
      pump();
    });
  }

  const settled = async (request: BodyRequest): Promise<BodyOutcome & { ok: true }> => {
    const outcome = await run(request);
    if (!outcome.ok) throw fromWireError(outcome.error);
    return outcome;
  };
  const answered = async (request: BodyRequest): Promise<JsonAnswer> => {
    const outcome = await settled(request);
    if (outcome.kind === 'plan') throw new Error(`body worker answered a ${request.kind} request with a plan`);
    return outcome.answer;
  };

  return {
    stage(length) {
      if (length > stagingBytes) return Buffer.allocUnsafeSlow(length);
      const buffer = free.pop() ?? new ArrayBuffer(stagingBytes);
      issued.add(buffer);
      return Buffer.from(buffer, 0, length);
    },
    get freeStaging() {
      return free.length;
    },
    async plan(bytes) {
      const outcome = await settled({ kind: 'plan', bytes });
      if (outcome.kind !== 'plan') throw new Error('body worker answered a plan body with an answer');
      return outcome.normalised;
    },
    budgets: (bytes) => answered({ kind: 'budgets', bytes }),
    // A copy: the stored plan's bytes stay with the plan cache (run() would transfer a whole buffer away).
    ranks: (bytes, counts) => answered({ kind: 'ranks', bytes: new Uint8Array(bytes), counts }),
    ready: () =>
      slots.every((slot) => slot.ready)
        ? Promise.resolve()
        : new Promise<void>((resolve) => readyWaiters.push(resolve)),
    isReady: () => started,
    get queued() {
      return queue.length;
    },
    get busy() {
      return slots.filter((slot) => slot.job !== null).length;
    },
    async close() {
      closing = true;
      const draining = (): HplbError => new HplbError('DRAINING', 'the service is shutting down');
      for (const job of queue.splice(0)) job.reject(draining());
      for (const slot of slots) finish(slot)?.reject(draining());
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}

/** The refusal of the slot's request: a body, or a stored plan whose ranks were asked for. */
function refused(slot: Slot, what: string, rule: string): HplbError {
  if (slot.job?.request.kind === 'ranks') {
    return new HplbError('PROBLEM_TOO_LARGE', `building the ranks of this plan ${what}`, { rule });
  }
  return new HplbError('PROBLEM_TOO_LARGE', `checking the request body ${what}; send a smaller request`, {
    pointer: '',
    rule,
  });
}
