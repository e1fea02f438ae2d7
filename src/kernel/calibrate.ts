/**
 * Measures a calibration: times the sparse kernel over a grid of (sequence length, budget),
 * fits the cost model (cost/calibrated.ts) on most points and scores it on the points left out.
 *
 * Timing plan: `rounds` rounds; each round visits every grid point once, in a freshly shuffled
 * order (seeded), compiling its kernels, running `warmup` untimed calls and one timed call. A
 * point's figure is the median over rounds, with the fastest and slowest reported. Spreading a
 * point's samples over the whole run keeps a burst of load from other processes from biasing one
 * region of the grid; on the CPU backends the default clock is this process's CPU time, which
 * such load does not inflate (the wall-clock median is kept beside it). Pure of files: the
 * caller writes the result.
 */
import { cpus, platform } from 'node:os';
import { createRequire } from 'node:module';
import { fitCalibration, type Calibration, type RawMeasurement, type TimingClock } from '../cost/calibrated.ts';
import type { Workload } from '../cost/cost-model.ts';
import { HplbError } from '../errors.ts';
import { buildRowIndex } from './pattern.ts';
import { createAttentionRunner } from './sparse-attention.ts';
import type { KernelBackend } from './backends.ts';
import { createRandom } from './synthetic.ts';
import { median, randomInput, streamingForBudget, summarise } from './timing.ts';

export interface CalibrationOptions {
  /** File name of the calibration (models/calibrations/<name>.json). */
  readonly name: string;
  readonly seqLens: readonly number[];
  /** Budgets in tokens per query row; those above a sequence length are skipped for it. */
  readonly budgets: readonly number[];
  readonly phase: Workload['phase'];
  readonly backend?: KernelBackend | 'auto';
  /** Head dimension of the timed head. Default 64. */
  readonly headDim?: number;
  /** Timed samples per point (median over them). Default 5. */
  readonly rounds?: number;
  /** Untimed calls per visit, after compilation. Default 1. */
  readonly warmup?: number;
  /** Every k-th grid point (k >= 2), from the second on, is held out of the fit. Default 4. */
  readonly holdoutEvery?: number;
  /** Seed of the visiting order. Default 1. */
  readonly seed?: number;
  /** Clock the fit uses. Default 'cpu' on the CPU backends (webasm, cpu), 'wall' on webgpu. */
  readonly clock?: TimingClock;
  /** Clock for the date field. */
  readonly now?: () => Date;
}

/** Grid points in (seqLen, budget) order: budgets above a sequence length are skipped. */
export function calibrationGrid(seqLens: readonly number[], budgets: readonly number[]): { seqLen: number; budget: number }[] {
  for (const [name, list] of [['seqLens', seqLens], ['budgets', budgets]] as const) {
    if (list.length === 0 || !list.every((x) => Number.isInteger(x) && x >= 1)) {
      throw new HplbError('VALIDATION_FAILED', `${name} must be a non-empty list of positive integers`, { pointer: `/${name}` });
    }
  }
  return seqLens.flatMap((seqLen) => budgets.filter((budget) => budget <= seqLen).map((budget) => ({ seqLen, budget })));
}

function shuffled<T>(items: readonly T[], uniform: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Times the grid and fits the model. `onTick(done, total)` is called after every timed call.
 * Throws VALIDATION_FAILED for a bad grid, INVALID_PROBLEM when too few points remain to fit.
 */
export async function measureCalibration(options: CalibrationOptions, onTick: (done: number, total: number) => void = () => {}): Promise<Calibration> {
  const { phase } = options;
  const headDim = options.headDim ?? 64;
  const rounds = Math.max(1, options.rounds ?? 5);
  const warmup = Math.max(0, options.warmup ?? 1);
  const holdoutEvery = options.holdoutEvery ?? 4;
  const grid = calibrationGrid(options.seqLens, options.budgets);
  const uniform = createRandom(options.seed ?? 1);
  const samples = grid.map((): number[] => []);
  const wallSamples = grid.map((): number[] => []);
  const runner = await createAttentionRunner({ backend: options.backend ?? 'auto', cacheSize: 1 });
  const clock = options.clock ?? (runner.backend === 'webgpu' ? 'wall' : 'cpu');
  const backends = new Set<string>();
  // Each point's inputs and row index, built once: they are deterministic, and building them
  // between timed calls only feeds the garbage collector.
  const prepared = grid.map(({ seqLen, budget }, i) => {
    const input = randomInput(seqLen, headDim, phase, i + 1);
    return { input, index: buildRowIndex(streamingForBudget(budget), input) };
  });
  try {
    let done = 0;
    for (let round = 0; round < rounds; round++) {
      for (const i of shuffled(grid.map((_, i) => i), uniform)) {
        const { input, index } = prepared[i];
        for (let w = 0; w < warmup; w++) await runner.sparseIndexed(input, index);
        const result = await runner.sparseIndexed(input, index);
        backends.add(result.backend);
        samples[i].push((clock === 'cpu' ? result.cpuMs : result.kernelMs) * 1000);
        wallSamples[i].push(result.kernelMs * 1000);
        onTick(++done, rounds * grid.length);
      }
    }
  } finally {
    runner.destroy();
  }
  const raw: RawMeasurement[] = grid.map((point, i) => {
    const { medianUs, minUs, maxUs } = summarise(samples[i]);
    return { ...point, medianUs, minUs, maxUs, wallMedianUs: median(wallSamples[i]) };
  });
  const heldOut = (i: number): boolean => holdoutEvery >= 2 && i % holdoutEvery === 1;
  const fit = fitCalibration(raw, phase, heldOut);
  const cpuList = cpus();
  const gpujs = createRequire(import.meta.url)('gpu.js/package.json') as { version: string };
  return {
    generatedBy: 'generated by scripts/calibrate.ts (npm run calibrate), do not edit',
    name: options.name,
    device: {
      name: `${cpuList.length}x ${cpuList[0]?.model ?? 'unknown CPU'}`,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      cpus: cpuList.length,
      platform: platform(),
      arch: process.arch,
    },
    backend: [...backends].join('+'),
    gpujs: gpujs.version,
    node: process.version,
    date: (options.now ?? (() => new Date()))().toISOString(),
    phase,
    headDim,
    method: `one causal head, d=${headDim}, random inputs, streaming pattern per budget (row p attends min(p + 1, budget) keys); ` +
      `${phase === 'prefill' ? 'seqLen query rows' : 'one query row (the last position)'}; ${clock === 'cpu' ? 'process CPU time' : 'wall time'} of the GPU.js kernel pipeline, row index prebuilt; ` +
      `${rounds} rounds visiting every point in shuffled order (compile, ${warmup} warm-up call(s), one timed call); median over rounds; ` +
      `every ${holdoutEvery}th point from the second held out of the fit`,
    timing: { clock, warmup, repeats: rounds, statistic: 'median' },
    grid: { seqLens: [...options.seqLens], budgets: [...options.budgets] },
    ...fit,
  };
}
