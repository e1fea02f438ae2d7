/**
 * Calibrated cost models: GPU.js kernel timings on one device, fitted per pattern by least squares
 * on features of the executed work (work.ts), stored as data in models/calibrations/<name>.json
 * (written by scripts/calibrate.ts). Opt-in by name; the unit is microseconds OF THAT DEVICE AND
 * BACKEND, which the model's `device` names. Pure: reading files is registry.ts's job.
 *
 * Prefill, per pattern (vertical_slash, streaming, full, block_sparse, exact_vertical_slash):
 *   time_us = c_intercept + c_cells * rows * maxRowKeys + c_pairs * pairs + c_pairsD * pairs * d
 * where rows x maxRowKeys is the padded grid the GPU.js score and softmax kernels are dispatched
 * over, pairs the causal pairs they compute and pairs x d their multiply-accumulates.
 * Decode (one query row):
 *   time_us = c_intercept + c_keys * keysRead + c_kvBytes * keysRead * 2 * d * dtypeBytes.
 * Fitted on relative errors (weights 1 / measured time); R^2 is the plain one. A prediction below
 * zero is clamped to 0. A pattern or phase the calibration did not time is refused, not
 * extrapolated from another pattern.
 */
import { HplbError } from '../errors.ts';
import type { HeadBudget } from '../profiles/head-budget.ts';
import { cannotPriceGroups, type CostModel } from './cost-model.ts';
import { predict } from './least-squares.ts';
import { headWork, type ExecutedWork } from './work.ts';
import { DEFAULT_HEAD_SHAPE, kvBytes, type HeadShape } from './head-shape.ts';
import type { Workload } from './workload.ts';

export type TimingClock = 'cpu' | 'wall';

export const PREFILL_FEATURES = ['intercept', 'cells', 'pairs', 'pairsD'] as const;
export const DECODE_FEATURES = ['intercept', 'keys', 'kvBytes'] as const;
export type CalibrationFeature = (typeof PREFILL_FEATURES)[number] | (typeof DECODE_FEATURES)[number];

/** Patterns a prefill calibration may time. */
export const CALIBRATED_PATTERNS = [
  'vertical_slash',
  'streaming',
  'full',
  'block_sparse',
  'exact_vertical_slash',
] as const;
export type CalibratedPattern = (typeof CALIBRATED_PATTERNS)[number];

/**
 * Features fitted per pattern: full attention's grid and pairs differ only by n / 2, so it is fitted
 * on pairs alone (its grid adds nothing a sequence-length grid can identify).
 */
export function featuresOf(pattern: CalibratedPattern | 'decode'): readonly CalibrationFeature[] {
  if (pattern === 'decode') return DECODE_FEATURES;
  return pattern === 'full' ? ['intercept', 'pairs', 'pairsD'] : PREFILL_FEATURES;
}

/** Calibration names: lower-case letters, digits, '.', '_' and '-' (they are file names). */
export const CALIBRATION_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** One timed point. */
export interface CalibrationMeasurement {
  /** 'decode' for decode points, else the pattern timed. */
  readonly pattern: CalibratedPattern | 'decode';
  readonly seqLen: number;
  readonly headDim: number;
  /** The pattern's size in its own unit (lines per kind, blocks, keys), as a label. */
  readonly budget: string;
  readonly work: ExecutedWork;
  /** Median, fastest and slowest of the timed repeats on the calibration's clock, microseconds. */
  readonly medianUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  readonly wallMedianUs: number;
  /** One-minute load average when the point's last sample was taken; retimed when it was high. */
  readonly load: number;
  readonly retimed: boolean;
  /** True when the point was left out of the fit and used to score it. */
  readonly heldOut: boolean;
  readonly predictedUs: number;
}

export interface PatternFit {
  readonly features: readonly CalibrationFeature[];
  readonly coefficients: readonly number[];
  /** R^2 on the fitted points. */
  readonly r2: number;
  readonly fitPoints: number;
  readonly holdout: {
    readonly points: number;
    readonly medianRelativeError: number;
    readonly maxRelativeError: number;
  };
}

export interface Calibration {
  readonly generatedBy: string;
  readonly name: string;
  readonly device: {
    readonly name: string;
    readonly cpuModel: string;
    readonly cpus: number;
    readonly platform: string;
    readonly arch: string;
  };
  /** GPU.js backend the kernels actually ran on. */
  readonly backend: string;
  readonly gpujs: string;
  readonly node: string;
  /** ISO 8601. */
  readonly date: string;
  /** What was timed, in a sentence. */
  readonly method: string;
  readonly timing: {
    readonly clock: TimingClock;
    readonly warmup: number;
    readonly repeats: number;
    readonly statistic: 'median';
    /** Load average above which a point was timed again (once), and the load before and after the run. */
    readonly retimeAboveLoad: number;
    readonly loadBefore: number;
    readonly loadAfter: number;
  };
  /** Bytes per K/V element of the timed kernels (float32). */
  readonly dtypeBytes: number;
  /** Per-pattern prefill fits. */
  readonly prefill: Readonly<Partial<Record<CalibratedPattern, PatternFit>>>;
  readonly decode: PatternFit | null;
  /** Held-out heads of every pattern together: median relative error and Spearman rank correlation. */
  readonly holdout: { readonly points: number; readonly medianRelativeError: number; readonly spearman: number };
  readonly measurements: readonly CalibrationMeasurement[];
}

/** The value of a feature for some executed work at head dimension d. */
export function featureValue(feature: CalibrationFeature, work: ExecutedWork, shape: HeadShape): number {
  switch (feature) {
    case 'intercept':
      return 1;
    case 'cells':
      return work.rows * work.maxRowKeys;
    case 'pairs':
      return work.pairs;
    case 'pairsD':
      return work.pairs * shape.headDim;
    case 'keys':
      return work.keysRead;
    case 'kvBytes':
      return kvBytes(work.keysRead, shape);
  }
}

function invalid(message: string): never {
  throw new HplbError('INTERNAL', `calibration is not valid: ${message}`);
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function checkFit(fit: unknown, where: string, allowed: readonly string[]): void {
  if (typeof fit !== 'object' || fit === null) invalid(`${where} is missing`);
  const { features, coefficients, r2 } = fit as PatternFit;
  if (!Array.isArray(features) || features.length === 0 || !features.every((f) => allowed.includes(f))) {
    invalid(`${where}.features must list features among ${allowed.join(', ')}`);
  }
  if (!Array.isArray(coefficients) || coefficients.length !== features.length || !coefficients.every(isFiniteNumber)) {
    invalid(`${where}.coefficients must hold one finite number per feature`);
  }
  if (!isFiniteNumber(r2)) invalid(`${where}.r2 must be a number`);
}

/** Checks the fields a cost model relies on; throws INTERNAL naming the first problem. */
export function validateCalibration(value: unknown): Calibration {
  if (typeof value !== 'object' || value === null) invalid('not an object');
  const calibration = value as Calibration;
  if (typeof calibration.name !== 'string' || !CALIBRATION_NAME.test(calibration.name))
    invalid(`name ${String(calibration.name)} is not a valid calibration name`);
  if (typeof calibration.backend !== 'string' || calibration.backend === '') invalid('backend is missing');
  if (typeof calibration.device?.name !== 'string') invalid('device.name is missing');
  if (!isFiniteNumber(calibration.dtypeBytes) || calibration.dtypeBytes <= 0)
    invalid('dtypeBytes must be a positive number');
  if (typeof calibration.prefill !== 'object' || calibration.prefill === null)
    invalid('prefill must be an object of per-pattern fits');
  for (const [pattern, fit] of Object.entries(calibration.prefill)) {
    if (!(CALIBRATED_PATTERNS as readonly string[]).includes(pattern))
      invalid(`prefill.${pattern} is not a calibrated pattern`);
    checkFit(fit, `prefill.${pattern}`, PREFILL_FEATURES);
  }
  if (calibration.decode !== null) checkFit(calibration.decode, 'decode', DECODE_FEATURES);
  if (!Array.isArray(calibration.measurements)) invalid('measurements must be an array');
  return calibration;
}

/** A fit's prediction for some work, clamped at 0. */
export function predictWork(fit: PatternFit, work: ExecutedWork, shape: HeadShape): number {
  return Math.max(
    0,
    predict(
      fit.features.map((f) => featureValue(f, work, shape)),
      fit.coefficients,
    ),
  );
}

/**
 * The cost model of a calibration: name "calibrated:<name>", unit "us", device the calibration's
 * device and backend. A head's features come from its executed-work estimate (work.ts). Throws
 * UNKNOWN_CALIBRATION when the calibration has no fit for the head's pattern or the phase.
 */
export function createCalibratedCostModel(calibration: Calibration): CostModel {
  validateCalibration(calibration);
  const name = `calibrated:${calibration.name}`;
  return Object.freeze({
    name,
    unit: 'us',
    device: `${calibration.device.name}, GPU.js ${calibration.backend}`,
    // Microseconds of one device, but of the GPU.js attention kernels only: see groupCost.
    time: true,
    headCost(budget: HeadBudget, workload: Workload, shape: HeadShape = DEFAULT_HEAD_SHAPE): number {
      const fit = workload.phase === 'decode' ? calibration.decode : calibration.prefill[budget.kind];
      if (!fit) {
        const what = workload.phase === 'decode' ? 'decode' : `prefill of ${budget.kind} heads`;
        throw new HplbError(
          'UNKNOWN_CALIBRATION',
          `calibration "${calibration.name}" did not time ${what}; use the default cost model or another calibration`,
          { pointer: '/costModel' },
        );
      }
      return predictWork(fit, headWork(budget, workload).estimate, shape);
    },
    groupCost(): number {
      throw cannotPriceGroups(name, 'timed the attention kernels only, not K/V projections or reads shared by a group');
    },
  });
}

/** A timed point before fitting. */
export type RawMeasurement = Omit<CalibrationMeasurement, 'heldOut' | 'predictedUs'>;
