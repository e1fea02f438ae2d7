/**
 * Calibrated cost models: kernel timings on one device fitted by least squares, stored as data in
 * models/calibrations/<name>.json (written by scripts/calibrate.ts). Pure: reading files is
 * registry.ts's job.
 *
 * The model is affine in a few features of a head's work:
 *   time_us = sum_j coefficients[j] * feature_j(budget, workload)
 * with features 'intercept' (1), 'pairs' (attendedPairs: the score/value pairs computed) and
 * 'cells' (query rows x min(budget, seqLen): the padded grid the score and softmax kernels are
 * dispatched over; rows = seqLen for prefill, 1 for decode). It is fitted by least squares on
 * relative errors (weights 1 / measured time), so short and long kernels count alike; R^2 is the
 * plain one. A prediction below zero is clamped to 0. The timings were taken at one head dimension
 * (`headDim`) and one phase; a workload of the other phase is costed with the same fit, which
 * extrapolates.
 */
import { attendedPairs, attendedTokens, type CostModel, type Workload } from './cost-model.ts';
import { HplbError } from '../errors.ts';
import type { HeadBudget } from '../profiles/profile.ts';
import { leastSquares, predict } from './least-squares.ts';

export type TimingClock = 'cpu' | 'wall';

export const CALIBRATION_FEATURES = ['intercept', 'pairs', 'cells'] as const;
export type CalibrationFeature = (typeof CALIBRATION_FEATURES)[number];

/** Calibration names: lower-case letters, digits, '.', '_' and '-' (they are file names). */
export const CALIBRATION_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** One grid point's timing. */
export interface CalibrationMeasurement {
  readonly seqLen: number;
  /** Budget in tokens per query row. */
  readonly budget: number;
  /** Features of this point (attendedPairs; query rows x min(budget, seqLen)). */
  readonly pairs: number;
  readonly cells: number;
  /** Median, fastest and slowest of the timed repeats on the calibration's clock, microseconds. */
  readonly medianUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  /** Median wall-clock time, microseconds (equal to medianUs when the clock is the wall). */
  readonly wallMedianUs: number;
  /** (maxUs - minUs) / medianUs. */
  readonly spread: number;
  /** True when the point was left out of the fit and used to score it. */
  readonly heldOut: boolean;
  readonly predictedUs: number;
  /** medianUs - predictedUs. */
  readonly residualUs: number;
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
  readonly phase: Workload['phase'];
  readonly headDim: number;
  /** What was timed, in a sentence. */
  readonly method: string;
  readonly timing: {
    /**
     * 'cpu': CPU time of this process during the kernel pipeline (CPU backends run it synchronously
     * on the main thread, so this is its work, unaffected by other processes' load); 'wall': elapsed.
     */
    readonly clock: TimingClock;
    readonly warmup: number;
    readonly repeats: number;
    readonly statistic: 'median';
  };
  readonly grid: { readonly seqLens: readonly number[]; readonly budgets: readonly number[] };
  readonly model: {
    readonly form: string;
    readonly features: readonly CalibrationFeature[];
    readonly coefficients: readonly number[];
    /** R^2 on the fitted points. */
    readonly r2: number;
    readonly fitPoints: number;
  };
  readonly holdout: {
    readonly points: number;
    /** Mean and largest |predicted - measured| / measured over the held-out points. */
    readonly meanRelativeError: number;
    readonly maxRelativeError: number;
  };
  readonly measurements: readonly CalibrationMeasurement[];
}

/** The value of a feature for a budget of `attended` tokens per row under a workload. */
export function featureValue(feature: CalibrationFeature, attended: number, workload: Workload): number {
  switch (feature) {
    case 'intercept':
      return 1;
    case 'pairs':
      return attendedPairs(attended, workload);
    case 'cells':
      return (workload.phase === 'prefill' ? workload.seqLen : 1) * Math.min(attended, workload.seqLen);
  }
}

/** The features a phase can identify: with one query row, cells equal pairs. */
export function featuresFor(phase: Workload['phase']): CalibrationFeature[] {
  return phase === 'prefill' ? ['intercept', 'pairs', 'cells'] : ['intercept', 'pairs'];
}

function invalid(message: string): never {
  throw new HplbError('INTERNAL', `calibration is not valid: ${message}`);
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Checks the fields a cost model relies on; throws INTERNAL naming the first problem. */
export function validateCalibration(value: unknown): Calibration {
  if (typeof value !== 'object' || value === null) invalid('not an object');
  const calibration = value as Calibration;
  if (typeof calibration.name !== 'string' || !CALIBRATION_NAME.test(calibration.name)) invalid(`name ${String(calibration.name)} is not a valid calibration name`);
  if (typeof calibration.backend !== 'string' || calibration.backend === '') invalid('backend is missing');
  if (calibration.phase !== 'prefill' && calibration.phase !== 'decode') invalid(`phase must be prefill or decode, got ${String(calibration.phase)}`);
  const model = calibration.model;
  if (typeof model !== 'object' || model === null) invalid('model is missing');
  if (!Array.isArray(model.features) || model.features.length === 0 || !model.features.every((f) => (CALIBRATION_FEATURES as readonly string[]).includes(f))) {
    invalid(`model.features must list features among ${CALIBRATION_FEATURES.join(', ')}`);
  }
  if (!Array.isArray(model.coefficients) || model.coefficients.length !== model.features.length || !model.coefficients.every(isFiniteNumber)) {
    invalid('model.coefficients must hold one finite number per feature');
  }
  if (!isFiniteNumber(model.r2)) invalid('model.r2 must be a number');
  if (!Array.isArray(calibration.measurements)) invalid('measurements must be an array');
  return calibration;
}

/** The cost model of a calibration: name "calibrated:<name>", unit "us". */
export function createCalibratedCostModel(calibration: Calibration): CostModel {
  const { features, coefficients } = validateCalibration(calibration).model;
  return Object.freeze({
    name: `calibrated:${calibration.name}`,
    unit: 'us',
    headCost(budget: HeadBudget, workload: Workload): number {
      const attended = attendedTokens(budget, workload.seqLen);
      const row = features.map((feature) => featureValue(feature, attended, workload));
      return Math.max(0, predict(row, coefficients));
    },
  });
}

/** A timed grid point before fitting. */
export type RawMeasurement = Pick<CalibrationMeasurement, 'seqLen' | 'budget' | 'medianUs' | 'minUs' | 'maxUs' | 'wallMedianUs'>;

export interface FitResult {
  readonly model: Calibration['model'];
  readonly holdout: Calibration['holdout'];
  readonly measurements: CalibrationMeasurement[];
}

/**
 * Fits the affine model (relative-error least squares) on the points whose `heldOut(i)` is false
 * and scores it on the others.
 * Throws INVALID_PROBLEM when too few points remain for the features.
 */
export function fitCalibration(raw: readonly RawMeasurement[], phase: Workload['phase'], heldOut: (i: number) => boolean): FitResult {
  const features = featuresFor(phase);
  const rowsOf = raw.map((point) => features.map((feature) => featureValue(feature, point.budget, { seqLen: point.seqLen, phase })));
  const fitIndices = raw.map((_, i) => i).filter((i) => !heldOut(i));
  const fit = leastSquares(fitIndices.map((i) => rowsOf[i]), fitIndices.map((i) => raw[i].medianUs), fitIndices.map((i) => 1 / raw[i].medianUs));
  const measurements = raw.map((point, i): CalibrationMeasurement => {
    const workload = { seqLen: point.seqLen, phase };
    const predictedUs = predict(rowsOf[i], fit.coefficients);
    return {
      ...point,
      pairs: featureValue('pairs', point.budget, workload),
      cells: featureValue('cells', point.budget, workload),
      spread: (point.maxUs - point.minUs) / point.medianUs,
      heldOut: heldOut(i),
      predictedUs,
      residualUs: point.medianUs - predictedUs,
    };
  });
  const errors = measurements.filter((m) => m.heldOut).map((m) => Math.abs(m.residualUs) / m.medianUs);
  return {
    model: {
      form: `time_us = ${features.map((f) => (f === 'intercept' ? 'c_intercept' : `c_${f} * ${f}`)).join(' + ')}`,
      features,
      coefficients: fit.coefficients,
      r2: fit.r2,
      fitPoints: fitIndices.length,
    },
    holdout: {
      points: errors.length,
      meanRelativeError: errors.length ? errors.reduce((a, b) => a + b, 0) / errors.length : 0,
      maxRelativeError: errors.length ? Math.max(...errors) : 0,
    },
    measurements,
  };
}
