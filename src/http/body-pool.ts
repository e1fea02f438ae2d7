/**
 * Body workers (body-worker.ts on src/pool/worker-pool.ts): large request bodies are parsed,
 * validated and normalised there, so that the event loop never spends time that grows with a body.
 * Bounded three ways against hostile bodies: at most `maxQueued` bodies wait (503 QUEUE_FULL
 * beyond), one body may take at most `timeLimitMs` once a worker has it, and a worker's heap is
 * capped; past either the worker is stopped and replaced and the request refused with 422
 * PROBLEM_TOO_LARGE.
 */
import type { HeadCounts } from '../apply/head-order.ts';
import { HplbError } from '../errors.ts';
import type { NormalisedRequest } from '../planner/request.ts';
import { createWorkerPool, TaskOverrun, TaskThrew, workerEntry, type WorkerPool } from '../pool/worker-pool.ts';
import type { BodyRequest, BodyWorkerData } from './body-work.ts';
import type { JsonAnswer } from './json-answer.ts';

export interface BodyPoolOptions {
  readonly size: number;
  readonly maxQueued: number;
  readonly timeLimitMs: number;
  readonly data: BodyWorkerData;
  /** The worker's module; body-worker.ts next to this module by default. */
  readonly workerFile?: URL;
  readonly onWorkerRestart?: (reason: string) => void;
}

/** Every method throws the HplbError its body (or plan) earns; close() refuses bodies still waiting with DRAINING. */
export type BodyPool = Pick<WorkerPool, 'ready' | 'isReady' | 'close'> & {
  /** The normalised plan request of a body. */
  plan(bytes: Uint8Array): Promise<NormalisedRequest>;
  /** The budgets answer of a body, ready to send. */
  budgets(bytes: Uint8Array): Promise<JsonAnswer>;
  /** The ranks answer (json-answer.ts) of a stored plan's bytes on a model with `counts`, ready to send. */
  ranks(planBytes: Uint8Array, counts: HeadCounts): Promise<JsonAnswer>;
  /** Workers handling a body. */
  readonly busy: number;
};

/** Old-generation heap of one worker, MB; a body that needs more is refused. */
const HEAP_MB = 256;

export function createBodyPool(options: BodyPoolOptions): BodyPool {
  const pool = createWorkerPool({
    entry: options.workerFile ?? workerEntry(import.meta.url, 'body-worker'),
    threads: options.size,
    maxQueued: options.maxQueued,
    queueFull: () =>
      new HplbError(
        'QUEUE_FULL',
        `large bodies are waiting for a body worker (limit ${options.maxQueued}, MAX_QUEUED_BODIES); retry later`,
      ),
    maxHeapMb: HEAP_MB,
    data: options.data,
  });

  async function run<T>(request: BodyRequest): Promise<T> {
    // Moved to the worker: a buffer that is all of its ArrayBuffer goes as is, a view into a larger one is copied.
    const { bytes } = request;
    const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const sent = owned ? request : { ...request, bytes: new Uint8Array(bytes) };
    try {
      return await pool.run<T>(sent, { runLimitMs: options.timeLimitMs, transfer: [sent.bytes.buffer as ArrayBuffer] });
    } catch (error) {
      if (error instanceof HplbError) throw error;
      if (error instanceof TaskThrew) throw new Error(`body worker: ${error.threadStack ?? error.message}`);
      const outOfMemory = (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      if (!(error instanceof TaskOverrun) && !outOfMemory) {
        options.onWorkerRestart?.(`body worker crashed: ${(error as Error).message}`);
        throw error;
      }
      options.onWorkerRestart?.(outOfMemory ? 'body worker out of memory' : 'body worker over its time limit');
      throw outOfMemory
        ? refused(request, `needed more than a body worker's ${HEAP_MB} MB heap`, 'bodyMemory')
        : refused(request, `took longer than BODY_TIME_LIMIT_MS (${options.timeLimitMs} ms)`, 'bodyTimeLimit');
    }
  }

  return {
    plan: (bytes) => run({ kind: 'plan', bytes }),
    budgets: (bytes) => run({ kind: 'budgets', bytes }),
    // A copy: the stored plan's bytes stay with the plan store (run() moves a whole buffer away).
    ranks: (bytes, counts) => run({ kind: 'ranks', bytes: new Uint8Array(bytes), counts }),
    ready: () => pool.ready(),
    isReady: () => pool.isReady(),
    get busy() {
      return pool.running;
    },
    close: () => pool.close(),
  };
}

/** The refusal of a request: a body, or a stored plan whose ranks were asked for. */
function refused(request: BodyRequest, what: string, rule: string): HplbError {
  if (request.kind === 'ranks') {
    return new HplbError('PROBLEM_TOO_LARGE', `building the ranks of this plan ${what}`, { rule });
  }
  return new HplbError('PROBLEM_TOO_LARGE', `checking the request body ${what}; send a smaller request`, {
    pointer: '',
    rule,
  });
}
