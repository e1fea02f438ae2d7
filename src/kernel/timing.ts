/**
 * Timing the attention kernels: warm-up runs (compilation included) then timed repeats,
 * summarised by the median and the spread. Used by the calibration and the benchmark.
 *
 * A timed point is one head of head dimension d on random inputs with the streaming pattern of
 * its budget (sink of 4 tokens when the budget allows, the rest a recent window): row p then
 * attends exactly min(p + 1, budget) keys, so the selected pairs equal attendedPairs of the cost
 * model. The row index is built once, outside the timed region; the time is the kernel pipeline's
 * (inputs in, output read back).
 */
import type { Workload } from '../cost/cost-model.ts';
import { buildRowIndex, type RowIndex, type StreamingPattern } from './pattern.ts';
import type { AttentionInput } from './reference.ts';
import type { AttentionRunner } from './sparse-attention.ts';
import { createGaussian, createRandom } from './synthetic.ts';

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

/** Runs `run` (which returns its own duration in milliseconds) warm-up + repeats times. */
export async function timeRepeated(run: () => Promise<number>, options: TimingOptions): Promise<TimingStats> {
  for (let i = 0; i < options.warmup; i++) await run();
  const samplesUs: number[] = [];
  for (let i = 0; i < Math.max(1, options.repeats); i++) samplesUs.push((await run()) * 1000);
  const medianUs = median(samplesUs);
  const minUs = Math.min(...samplesUs);
  const maxUs = Math.max(...samplesUs);
  return { medianUs, minUs, maxUs, spread: (maxUs - minUs) / medianUs, samplesUs };
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
  return { n: seqLen, d: headDim, queries, causal: true, q: fill(queries * headDim), k: fill(seqLen * headDim), v: fill(seqLen * headDim) };
}

export interface PointTiming extends TimingStats {
  readonly pairs: number;
  readonly backend: string;
}

/** Times the sparse pipeline on a prebuilt index. */
export async function timeIndexed(runner: AttentionRunner, input: AttentionInput, index: RowIndex, options: TimingOptions): Promise<PointTiming> {
  let backend = '';
  const stats = await timeRepeated(async () => {
    const result = await runner.sparseIndexed(input, index);
    backend = result.backend;
    return result.kernelMs;
  }, options);
  return { ...stats, pairs: index.pairs, backend };
}

/** Times the sparse pipeline at one (seqLen, budget) point of a phase. */
export async function timeBudget(
  runner: AttentionRunner, point: { seqLen: number; budget: number; phase: Workload['phase']; headDim: number }, options: TimingOptions,
): Promise<PointTiming> {
  const input = randomInput(point.seqLen, point.headDim, point.phase);
  const index = buildRowIndex(streamingForBudget(Math.min(point.budget, point.seqLen)), input);
  return timeIndexed(runner, input, index, options);
}

/** Times the dense pipeline (every causal key) at one sequence length. */
export async function timeDense(
  runner: AttentionRunner, point: { seqLen: number; phase: Workload['phase']; headDim: number }, options: TimingOptions,
): Promise<PointTiming> {
  const input = randomInput(point.seqLen, point.headDim, point.phase);
  let backend = '';
  let pairs = 0;
  const stats = await timeRepeated(async () => {
    const result = await runner.dense(input);
    backend = result.backend;
    pairs = result.pairs;
    return result.kernelMs;
  }, options);
  return { ...stats, pairs, backend };
}
