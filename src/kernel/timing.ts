/**
 * Timing the attention kernels: warm-up runs (compilation included) then timed repeats,
 * summarised by the median and the spread, on the wall clock and on this process's CPU time.
 * Used by the calibration and the benchmark.
 *
 * A timed point is one head of head dimension d on random inputs with the streaming pattern of
 * its budget (sink of 4 tokens when the budget allows, the rest a recent window): row p then
 * attends exactly min(p + 1, budget) keys, so the selected pairs equal attendedPairs of the cost
 * model. The row index is built once, outside the timed region; the time is the kernel pipeline's
 * (inputs in, output read back).
 */
import type { Workload } from '../cost/cost-model.ts';
import { buildRowIndex, type StreamingPattern } from './pattern.ts';
import type { AttentionInput } from './reference.ts';
import type { AttentionResult, AttentionRunner } from './sparse-attention.ts';
import { createGaussian, createRandom } from '../random.ts';

export interface TimingOptions {
  /** Untimed runs first (the first also compiles the kernels). */
  readonly warmup: number;
  /** Timed runs. */
  readonly repeats: number;
}

export interface TimingStats {
  readonly medianUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  /** (maxUs - minUs) / medianUs. */
  readonly spread: number;
  readonly samplesUs: readonly number[];
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median, extremes and spread of samples in microseconds. */
export function summarise(samplesUs: readonly number[]): TimingStats {
  const medianUs = median(samplesUs);
  const minUs = Math.min(...samplesUs);
  const maxUs = Math.max(...samplesUs);
  return { medianUs, minUs, maxUs, spread: (maxUs - minUs) / medianUs, samplesUs: [...samplesUs] };
}

/** The streaming pattern whose rows attend min(p + 1, budget) keys. */
export function streamingForBudget(budget: number): StreamingPattern {
  const sink = budget >= 8 ? 4 : 0;
  return { kind: 'streaming', sink, recent: budget - sink };
}

/** Random inputs of one head: prefill has seqLen query rows, decode one (the last position). */
export function randomInput(seqLen: number, headDim: number, phase: Workload['phase'], seed = 7): AttentionInput {
  const gaussian = createGaussian(createRandom(seed));
  const fill = (length: number): Float32Array => Float32Array.from({ length }, () => gaussian());
  const queries = phase === 'prefill' ? seqLen : 1;
  return {
    n: seqLen,
    d: headDim,
    queries,
    causal: true,
    q: fill(queries * headDim),
    k: fill(seqLen * headDim),
    v: fill(seqLen * headDim),
  };
}

/** Timings of one point on both clocks (see AttentionResult: kernelMs is wall, cpuMs is CPU). */
export interface PointTiming {
  readonly wall: TimingStats;
  readonly cpu: TimingStats;
  readonly pairs: number;
  readonly backend: string;
}

/** Runs `run` warm-up + repeats times and summarises the timed runs on both clocks. */
export async function timeRuns(run: () => Promise<AttentionResult>, options: TimingOptions): Promise<PointTiming> {
  for (let i = 0; i < options.warmup; i++) await run();
  const wall: number[] = [];
  const cpu: number[] = [];
  let last: AttentionResult | undefined;
  for (let i = 0; i < Math.max(1, options.repeats); i++) {
    last = await run();
    wall.push(last.kernelMs * 1000);
    cpu.push(last.cpuMs * 1000);
  }
  const result = last as AttentionResult;
  return { wall: summarise(wall), cpu: summarise(cpu), pairs: result.pairs, backend: result.backend };
}

/** Times the sparse pipeline at one (seqLen, budget) point of a phase, row index prebuilt. */
export async function timeBudget(
  runner: AttentionRunner,
  point: { seqLen: number; budget: number; phase: Workload['phase']; headDim: number },
  options: TimingOptions,
): Promise<PointTiming> {
  const input = randomInput(point.seqLen, point.headDim, point.phase);
  const index = buildRowIndex(streamingForBudget(Math.min(point.budget, point.seqLen)), input);
  return timeRuns(() => runner.sparseIndexed(input, index), options);
}

/** Times the dense pipeline (every causal key) at one sequence length. */
export async function timeDense(
  runner: AttentionRunner,
  point: { seqLen: number; phase: Workload['phase']; headDim: number },
  options: TimingOptions,
): Promise<PointTiming> {
  const input = randomInput(point.seqLen, point.headDim, point.phase);
  return timeRuns(() => runner.dense(input), options);
}
