/** A task in the solver pool, and how it is answered when its worker cannot answer it. */
import {
  greedyFallback,
  progressOutcome,
  type LayerOutcome,
  type LayerTask,
  type TaskProgress,
} from '../planner/layer-task.ts';

export interface Job {
  readonly id: number;
  readonly task: LayerTask;
  readonly resolve: (outcome: LayerOutcome) => void;
  readonly reject: (error: unknown) => void;
  /** Fires at the job's deadline, counted from when it was queued. */
  timer: NodeJS.Timeout | null;
  /** Removes the job's listener from its caller's abort signal. */
  unlisten: (() => void) | null;
  /** Answered already (at its deadline, while its worker may still be solving it). */
  settled: boolean;
  /** The engine's best placement reported before its deadline (the worker's progress), and when the job started. */
  progress: TaskProgress | null;
  startedAt: number;
}

/**
 * Answers a job that its worker cannot: with the best placement the engine reported before (it
 * beats greedy; status by its gap), else greedy on the calling thread; rejects only when greedy
 * itself cannot place it.
 */
export function fallback(job: Job, reason: string): void {
  release(job);
  if (job.settled) return;
  job.settled = true;
  if (job.progress) {
    job.resolve(progressOutcome(job.task, job.progress, performance.now() - job.startedAt, reason));
    return;
  }
  try {
    job.resolve(greedyFallback(job.task, reason));
  } catch (error) {
    job.reject(error);
  }
}

/** Stops the job's deadline timer and its abort listener. */
export function release(job: Job): void {
  if (job.timer) clearTimeout(job.timer);
  job.timer = null;
  job.unlisten?.();
  job.unlisten = null;
}

/**
 * Greedy answers for tasks cut before they started run back to back on this thread for up to this
 * long, then wait for the next turn of the event loop: a plan cut with a few small layers left is
 * answered in one go, one cut with many large layers does not hold the loop for all of them.
 */
const CUT_SLICE_MS = 5;

/**
 * Answers jobs cut before they were queued: greedy on this thread, back to back within
 * CUT_SLICE_MS, the rest on later turns of the event loop.
 */
export function createCutAnswerer(): (job: Job, reason: string) => void {
  /** When the current run of answers began; null once the event loop has turned. */
  let sliceStart: number | null = null;
  const answer = (job: Job, reason: string): void => {
    const now = performance.now();
    if (sliceStart === null) {
      sliceStart = now;
      setImmediate(() => {
        sliceStart = null;
      });
    }
    if (now - sliceStart < CUT_SLICE_MS) fallback(job, reason);
    else setImmediate(() => answer(job, reason));
  };
  return answer;
}
