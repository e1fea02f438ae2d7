/**
 * Plan-level admission on p-queue: at most `maxConcurrent` plans solve at once, at most
 * `maxQueued` wait (FIFO); beyond that a plan is refused with QUEUE_FULL and a Retry-After
 * estimate. Layer tasks of admitted plans then share the solver pool.
 */
import PQueue from 'p-queue';
import { HplbError } from '../errors.ts';

export interface AdmissionOptions {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
}

export interface Admission {
  /**
   * Runs `job` when a slot is free; throws HplbError('QUEUE_FULL') at once when none is and the
   * queue is full. When `deadline` aborts while the job waits (its plan's time is spent), the job
   * leaves the queue and runs at once without a slot: past its deadline a plan uses no solver time.
   */
  run<T>(job: () => Promise<T>, deadline?: AbortSignal): Promise<T>;
  readonly inFlight: number;
  readonly queued: number;
  /** Seconds after which a refused plan may well be admitted (>= 1). */
  retryAfterSeconds(): number;
}

/** Weight of the newest solve in the running mean of solve times. */
const SOLVE_TIME_SMOOTHING = 0.2;

export function createAdmission(options: AdmissionOptions): Admission {
  const queue = new PQueue({ concurrency: options.maxConcurrent });
  /** Exponentially smoothed solve time, ms; 1 s until the first solve says otherwise. */
  let meanSolveMs = 1000;

  async function run<T>(job: () => Promise<T>, deadline?: AbortSignal): Promise<T> {
    if (queue.pending >= options.maxConcurrent && queue.size >= options.maxQueued) {
      throw new HplbError(
        'QUEUE_FULL',
        `${queue.pending} plans are solving and ${queue.size} are waiting (limits ${options.maxConcurrent} and ${options.maxQueued}); retry later`,
      );
    }
    let running: Promise<T> | undefined;
    const timed = async (): Promise<T> => {
      const start = performance.now();
      try {
        running = job();
        return await running;
      } finally {
        meanSolveMs += SOLVE_TIME_SMOOTHING * (performance.now() - start - meanSolveMs);
      }
    };
    try {
      return await queue.add(timed, { signal: deadline });
    } catch (error) {
      // p-queue rejects at the signal even once the job runs: the job's own answer is the one.
      if (running) return running;
      if (!deadline?.aborted) throw error;
      return job();
    }
  }

  return {
    run,
    get inFlight() {
      return queue.pending;
    },
    get queued() {
      return queue.size;
    },
    retryAfterSeconds() {
      const rounds = (queue.pending + queue.size) / options.maxConcurrent;
      return Math.min(300, Math.max(1, Math.ceil((rounds * meanSolveMs) / 1000)));
    },
  };
}
