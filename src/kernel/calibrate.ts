/**
 * Measures a calibration: times the GPU.js sparse kernel on every pattern (vertical_slash as
 * MInference selects and executes it on synthetic heads, streaming, full, block_sparse with
 * MInference's picker, the exact-line form) over sizes, sequence lengths and head dimensions, and
 * decode steps at long contexts; fits per-pattern models on executed-work features
 * (cost/calibrated.ts, fitted by cost/calibration-fit.ts) and scores them on held-out sizes.
 *
 * Timing plan: `rounds` rounds; each visits every point once in a freshly shuffled order (seeded):
 * inputs and row index rebuilt (untimed), kernels compiled, `warmup` untimed calls, one timed call.
 * The one-minute load average is recorded with every sample; a point whose median sample load
 * exceeds `retimeAboveLoad` (see the option) is timed `rounds` more times at the end and marked
 * `retimed` (all its samples count). On the CPU backends the clock is this process's CPU time, which other processes
 * inflate less than the wall clock but still do (shared caches, frequency): hence the load record.
 * Pure of files: the caller writes the result.
 */
import { cpus, loadavg, platform } from 'node:os';
import { createRequire } from 'node:module';
import type { CalibratedPattern, Calibration, RawMeasurement, TimingClock } from '../cost/calibrated.ts';
import { fitCalibration } from '../cost/calibration-fit.ts';
import { HplbError } from '../errors.ts';
import { selectBlockSparse, selectVerticalSlash } from './minference.ts';
import { buildRowIndex, type AttentionPattern } from './pattern.ts';
import { patternWork } from './pattern-work.ts';
import type { AttentionInput } from './reference.ts';
import { exactLinesPattern, rankLines } from './selection.ts';
import { createAttentionRunner } from './sparse-attention.ts';
import type { KernelBackend } from './backends.ts';
import { createRandom } from '../random.ts';
import { syntheticHead, SYNTHETIC_KINDS } from './synthetic.ts';
import { median, randomInput, summarise } from './timing.ts';

/** One pattern's sizes: which go into the fit and which are held out (never in the fit). */
export interface SizeGrid<T> {
  readonly fit: readonly T[];
  readonly holdout: readonly T[];
}

export interface CalibrationGrid {
  readonly seqLens: readonly number[];
  readonly headDims: readonly number[];
  /** vertical_slash [vertical, slash] sizes in lines. */
  readonly verticalSlash: SizeGrid<readonly [number, number]>;
  /** streaming windows in keys (sink 4 + recent). */
  readonly streaming: SizeGrid<number>;
  /** block_sparse top-k in blocks of 64. */
  readonly blockSparse: SizeGrid<number>;
  /** exact_vertical_slash in lines. */
  readonly exactLines: SizeGrid<number>;
  /** full attention: the sequence lengths held out. */
  readonly fullHoldoutSeqLens: readonly number[];
  /** Decode contexts (one query row; MInference runs it dense). */
  readonly decodeSeqLens: SizeGrid<number>;
}

export const DEFAULT_GRID: CalibrationGrid = {
  seqLens: [256, 512, 1024],
  headDims: [64, 128],
  verticalSlash: {
    fit: [
      [30, 50],
      [100, 200],
      [400, 100],
      [100, 800],
    ],
    holdout: [
      [200, 400],
      [50, 300],
    ],
  },
  streaming: { fit: [32, 128, 512, 1024], holdout: [64, 256, 768] },
  blockSparse: { fit: [1, 2, 4, 8], holdout: [3, 6] },
  exactLines: { fit: [16, 64, 256], holdout: [32, 128] },
  fullHoldoutSeqLens: [1024],
  decodeSeqLens: { fit: [4096, 16384, 65536], holdout: [8192, 32768] },
};

export interface CalibrationOptions {
  /** File name of the calibration (models/calibrations/<name>.json). */
  readonly name: string;
  readonly grid?: CalibrationGrid;
  readonly backend?: KernelBackend | 'auto';
  /** Timed samples per point (median over them). Default 3. */
  readonly rounds?: number;
  /** Untimed calls per visit, after compilation. Default 1. */
  readonly warmup?: number;
  /** Seed of the visiting order and of the inputs. Default 1. */
  readonly seed?: number;
  /** Clock the fit uses. Default 'cpu' on the CPU backends (webasm, cpu), 'wall' on webgpu. */
  readonly clock?: TimingClock;
  /**
   * Load average above which a point is timed again. Default: the larger of the number of cores + 1
   * and 1.25 x the run's median sample load (on a machine that is always busy, the points taken in
   * a burst above its usual load).
   */
  readonly retimeAboveLoad?: number;
  /** Clock for the date field. */
  readonly now?: () => Date;
  /** The load average (injected by tests). Default os.loadavg()[0]. */
  readonly load?: () => number;
}

/** A point to time: its pattern (built once), inputs rebuilt per visit from a seed. */
interface Point {
  readonly pattern: CalibratedPattern | 'decode';
  readonly seqLen: number;
  readonly headDim: number;
  readonly budget: string;
  readonly heldOut: boolean;
  input(): AttentionInput;
  readonly attention: AttentionPattern;
}

/** The points of a grid, in a fixed order. Throws VALIDATION_FAILED for an empty or bad grid. */
export function calibrationPoints(grid: CalibrationGrid, seed = 1): Point[] {
  for (const [name, list] of [
    ['seqLens', grid.seqLens],
    ['headDims', grid.headDims],
  ] as const) {
    if (list.length === 0 || !list.every((x) => Number.isInteger(x) && x >= 16)) {
      throw new HplbError('VALIDATION_FAILED', `${name} must be a non-empty list of integers >= 16`, {
        pointer: `/${name}`,
      });
    }
  }
  const points: Point[] = [];
  let salt = seed;
  const add = (
    pattern: Point['pattern'],
    seqLen: number,
    headDim: number,
    budget: string,
    heldOut: boolean,
    input: () => AttentionInput,
    attention: (i: AttentionInput) => AttentionPattern,
  ): void => {
    const built = input();
    points.push({ pattern, seqLen, headDim, budget, heldOut, input, attention: attention(built) });
  };
  const sized = <T>(sizes: SizeGrid<T>): [T, boolean][] => [
    ...sizes.fit.map((s): [T, boolean] => [s, false]),
    ...sizes.holdout.map((s): [T, boolean] => [s, true]),
  ];
  for (const n of grid.seqLens) {
    for (const d of grid.headDims) {
      const random = (s: number) => () => randomInput(n, d, 'prefill', s);
      sized(grid.verticalSlash).forEach(([[vertical, slash], heldOut], i) => {
        const kind = SYNTHETIC_KINDS[(i + n / 64) % SYNTHETIC_KINDS.length];
        const s = ++salt;
        add(
          'vertical_slash',
          n,
          d,
          `${kind} v=${vertical} s=${slash}`,
          heldOut,
          () => syntheticHead({ kind, n, d, seed: s }),
          (input) => selectVerticalSlash(input, { vertical, slash }),
        );
      });
      for (const [window, heldOut] of sized(grid.streaming)) {
        if (window > n) continue;
        add('streaming', n, d, `sink 4 + recent ${window - 4}`, heldOut, random(++salt), () => ({
          kind: 'streaming',
          sink: 4,
          recent: window - 4,
        }));
      }
      for (const [topK, heldOut] of sized(grid.blockSparse)) {
        add('block_sparse', n, d, `top ${topK} blocks`, heldOut, random(++salt), (input) =>
          selectBlockSparse(input, topK),
        );
      }
      for (const [lines, heldOut] of sized(grid.exactLines)) {
        add('exact_vertical_slash', n, d, `${lines} lines`, heldOut, random(++salt), (input) =>
          exactLinesPattern(rankLines(input, 64), lines),
        );
      }
      add('full', n, d, 'all causal keys', grid.fullHoldoutSeqLens.includes(n), random(++salt), () => ({
        kind: 'full',
      }));
    }
  }
  for (const [n, heldOut] of sized(grid.decodeSeqLens)) {
    for (const d of grid.headDims) {
      const s = ++salt;
      add(
        'decode',
        n,
        d,
        `${n} keys`,
        heldOut,
        () => randomInput(n, d, 'decode', s),
        () => ({ kind: 'full' }),
      );
    }
  }
  return points;
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
 * Times the points and fits the models. `onTick(done, total)` is called after every timed call
 * (total grows when points are re-timed). Throws VALIDATION_FAILED for a bad grid,
 * INVALID_PROBLEM when too few points remain to fit a pattern.
 */
export async function measureCalibration(
  options: CalibrationOptions,
  onTick: (done: number, total: number) => void = () => {},
): Promise<Calibration> {
  const rounds = Math.max(1, options.rounds ?? 3);
  const warmup = Math.max(0, options.warmup ?? 1);
  const load = options.load ?? (() => loadavg()[0]);
  const points = calibrationPoints(options.grid ?? DEFAULT_GRID, options.seed ?? 1);
  const uniform = createRandom(options.seed ?? 1);
  const samples = points.map(() => ({ clock: [] as number[], wall: [] as number[], load: [] as number[] }));
  const runner = await createAttentionRunner({ backend: options.backend ?? 'auto', cacheSize: 1 });
  const clock = options.clock ?? (runner.backend === 'webgpu' ? 'wall' : 'cpu');
  const backends = new Set<string>();
  const loadBefore = load();
  let done = 0;
  let total = rounds * points.length;
  const visit = async (i: number): Promise<void> => {
    const input = points[i].input();
    const index = buildRowIndex(points[i].attention, input);
    for (let w = 0; w < warmup; w++) await runner.sparseIndexed(input, index);
    const result = await runner.sparseIndexed(input, index);
    backends.add(result.backend);
    samples[i].clock.push((clock === 'cpu' ? result.cpuMs : result.kernelMs) * 1000);
    samples[i].wall.push(result.kernelMs * 1000);
    samples[i].load.push(load());
    onTick(++done, total);
  };
  const retimed = new Set<number>();
  let retimeAboveLoad = 0;
  try {
    for (let round = 0; round < rounds; round++)
      for (const i of shuffled(
        points.map((_, i) => i),
        uniform,
      ))
        await visit(i);
    retimeAboveLoad =
      options.retimeAboveLoad ?? Math.max(cpus().length + 1, 1.25 * median(samples.flatMap((s) => s.load)));
    points.forEach((_, i) => {
      if (median(samples[i].load) > retimeAboveLoad) retimed.add(i);
    });
    total += rounds * retimed.size;
    for (let round = 0; round < rounds; round++) for (const i of shuffled([...retimed], uniform)) await visit(i);
  } finally {
    runner.destroy();
  }
  const raw: RawMeasurement[] = points.map((point, i) => {
    const { medianUs, minUs, maxUs } = summarise(samples[i].clock);
    const shape =
      point.pattern === 'decode' ? { n: point.seqLen, queries: 1, causal: true } : { n: point.seqLen, causal: true };
    return {
      pattern: point.pattern,
      seqLen: point.seqLen,
      headDim: point.headDim,
      budget: point.budget,
      work: patternWork(point.attention, shape),
      medianUs,
      minUs,
      maxUs,
      wallMedianUs: median(samples[i].wall),
      load: Math.min(...samples[i].load),
      retimed: retimed.has(i),
    };
  });
  const heldOutOf = new Map(raw.map((m, i) => [m, points[i].heldOut]));
  const dtypeBytes = 4;
  const fit = fitCalibration(raw, (m) => heldOutOf.get(m) ?? false, dtypeBytes);
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
    method:
      "one causal head per point, float32 K/V; prefill: vertical_slash selected by MInference's rules on synthetic " +
      'heads and executed as its index conversion builds (64-key ranges, gathered columns), streaming (sink 4), ' +
      "full, block_sparse (MInference's picker, top-k of 64-blocks) and exact lines on random inputs; decode: one " +
      `query row over every key (MInference decodes dense); ${clock === 'cpu' ? 'process CPU time' : 'wall time'} ` +
      `of the GPU.js kernel pipeline, row index prebuilt; ${rounds} rounds visiting every point in shuffled order ` +
      `(compile, ${warmup} warm-up call(s), one timed call); median over rounds; held-out points are sizes (and for ` +
      'full one sequence length) never in the fit',
    timing: { clock, warmup, repeats: rounds, statistic: 'median', retimeAboveLoad, loadBefore, loadAfter: load() },
    dtypeBytes,
    ...fit,
  };
}
