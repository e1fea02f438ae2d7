/**
 * Plan-level admission: at most `maxConcurrent` plans solve at once, at most `maxQueued` wait
 * (FIFO); beyond that a plan is refused with QUEUE_FULL and a Retry-After estimate. Layer tasks of
 * admitted plans then share the solver pool.
 */
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
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  /** Exponentially smoothed solve time, ms; 1 s until the first solve says otherwise. */
  let meanSolveMs = 1000;

  async function run<T>(job: () => Promise<T>, deadline?: AbortSignal): Promise<T> {
    if (inFlight >= options.maxConcurrent) {
      if (waiting.length >= options.maxQueued) {
        throw new HplbError(
          'QUEUE_FULL',
          `${inFlight} plans are solving and ${waiting.length} are waiting (limits ${options.maxConcurrent} and ${options.maxQueued}); retry later`,
        );
      }
      if (!(await admitted(deadline))) return job();
    } else {
      inFlight += 1;
    }
    const start = performance.now();
    try {
      return await job();
    } finally {
      meanSolveMs += SOLVE_TIME_SMOOTHING * (performance.now() - start - meanSolveMs);
      // The slot passes straight to the next waiter, so inFlight only drops when none waits.
      const next = waiting.shift();
      if (next) next();
      else inFlight -= 1;
    }
  }

  /** Waits in the queue: true once handed a slot, false when the deadline passed first. */
  function admitted(deadline: AbortSignal | undefined): Promise<boolean> {
    if (deadline?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onDeadline = (): void => {
        waiting.splice(waiting.indexOf(admit), 1);
        resolve(false);
      };
      const admit = (): void => {
        deadline?.removeEventListener('abort', onDeadline);
        resolve(true);
      };
      waiting.push(admit);
      deadline?.addEventListener('abort', onDeadline, { once: true });
    });
  }

  return {
    run,
    get inFlight() {
      return inFlight;
    },
    get queued() {
      return waiting.length;
    },
    retryAfterSeconds() {
      const rounds = (inFlight + waiting.length) / options.maxConcurrent;
      return Math.min(300, Math.max(1, Math.ceil((rounds * meanSolveMs) / 1000)));
    },
  };
}
