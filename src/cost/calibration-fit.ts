/**
 * Fitting a calibration's per-pattern models on timed points (relative-error least squares) and
 * scoring them on held-out points. Pure.
 */
import {
  CALIBRATED_PATTERNS,
  featuresOf,
  featureValue,
  type CalibratedPattern,
  type Calibration,
  type CalibrationFeature,
  type CalibrationMeasurement,
  type PatternFit,
  type RawMeasurement,
} from './calibrated.ts';
import { leastSquares, predict } from './least-squares.ts';

/** Spearman rank correlation (average ranks for ties) of two equal-length lists. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ranks = (values: readonly number[]): number[] => {
    const order = values.map((value, i) => ({ value, i })).sort((x, y) => x.value - y.value);
    const out = new Array<number>(values.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1].value === order[i].value) j++;
      for (let k = i; k <= j; k++) out[order[k].i] = (i + j) / 2;
      i = j + 1;
    }
    return out;
  };
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) ** 2;
    db += (rb[i] - mb) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
}

const medianOf = (values: readonly number[]): number => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Fits one set of points (relative-error least squares) on those not held out and scores it on
 * the others. Throws INVALID_PROBLEM when too few points remain for the features.
 */
export function fitPoints(
  points: readonly RawMeasurement[],
  features: readonly CalibrationFeature[],
  heldOut: (i: number) => boolean,
  dtypeBytes: number,
): { fit: PatternFit; predicted: number[] } {
  const rows = points.map((p) => features.map((f) => featureValue(f, p.work, { headDim: p.headDim, dtypeBytes })));
  const fitIndices = points.map((_, i) => i).filter((i) => !heldOut(i));
  const result = leastSquares(
    fitIndices.map((i) => rows[i]),
    fitIndices.map((i) => points[i].medianUs),
    fitIndices.map((i) => 1 / points[i].medianUs),
  );
  const predicted = rows.map((row) => predict(row, result.coefficients));
  const errors = points
    .map((p, i) => (heldOut(i) ? Math.abs(predicted[i] - p.medianUs) / p.medianUs : -1))
    .filter((e) => e >= 0);
  return {
    fit: {
      features,
      coefficients: result.coefficients,
      r2: result.r2,
      fitPoints: fitIndices.length,
      holdout: {
        points: errors.length,
        medianRelativeError: medianOf(errors),
        maxRelativeError: errors.length ? Math.max(...errors) : 0,
      },
    },
    predicted,
  };
}

/**
 * Fits every pattern's prefill points and the decode points (K/V of `dtypeBytes` per element);
 * `heldOut(point)` marks the points kept out of the fits. Returns the fits, the pooled held-out
 * score and the measurements with their predictions.
 */
export function fitCalibration(
  raw: readonly RawMeasurement[],
  heldOut: (point: RawMeasurement) => boolean,
  dtypeBytes: number,
): Pick<Calibration, 'prefill' | 'decode' | 'holdout' | 'measurements'> {
  const prefill: Partial<Record<CalibratedPattern, PatternFit>> = {};
  const predictedOf = new Map<RawMeasurement, number>();
  let decode: PatternFit | null = null;
  for (const pattern of [...CALIBRATED_PATTERNS, 'decode'] as const) {
    const points = raw.filter((p) => p.pattern === pattern);
    if (points.length === 0) continue;
    const { fit, predicted } = fitPoints(points, featuresOf(pattern), (i) => heldOut(points[i]), dtypeBytes);
    points.forEach((p, i) => predictedOf.set(p, predicted[i]));
    if (pattern === 'decode') decode = fit;
    else prefill[pattern] = fit;
  }
  const measurements = raw.map(
    (p): CalibrationMeasurement => ({ ...p, heldOut: heldOut(p), predictedUs: predictedOf.get(p) ?? 0 }),
  );
  const held = measurements.filter((m) => m.heldOut && m.pattern !== 'decode');
  return {
    prefill,
    decode,
    holdout: {
      points: held.length,
      medianRelativeError: medianOf(held.map((m) => Math.abs(m.predictedUs - m.medianUs) / m.medianUs)),
      spearman:
        held.length > 1
          ? spearman(
              held.map((m) => m.predictedUs),
              held.map((m) => m.medianUs),
            )
          : 0,
    },
    measurements,
  };
}
