/**
 * Ordinary least squares by Householder QR (stable even when features differ by orders of
 * magnitude, as pairs and an intercept do). Pure.
 */
import { HplbError } from '../errors.ts';

export interface LeastSquaresFit {
  /** [features] coefficients minimising the sum of squared residuals. */
  readonly coefficients: number[];
  /** [points] design . coefficients. */
  readonly predictions: number[];
  /** [points] observed - predicted. */
  readonly residuals: number[];
  /** 1 - SS_res / SS_tot (1 when every observation is equal and fitted exactly). */
  readonly r2: number;
}

/** Prediction of one feature row under coefficients. */
export function predict(features: readonly number[], coefficients: readonly number[]): number {
  let sum = 0;
  for (let j = 0; j < coefficients.length; j++) sum += features[j] * coefficients[j];
  return sum;
}

/**
 * Fits y ~ design . c, minimising sum_i (weights[i] * residual_i)^2 (weights default to 1;
 * weights 1 / y_i minimise squared relative errors). `design` is [points][features] with
 * points >= features. R^2 and residuals are the plain, unweighted ones. Throws INVALID_PROBLEM
 * when the shapes disagree, a weight is not positive, or the features are linearly dependent.
 */
export function leastSquares(
  design: readonly (readonly number[])[],
  observed: readonly number[],
  weights?: readonly number[],
): LeastSquaresFit {
  const points = design.length;
  const features = points > 0 ? design[0].length : 0;
  if (points !== observed.length || features === 0 || design.some((row) => row.length !== features)) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `least squares needs a [points][features] design matching ${observed.length} observations`,
    );
  }
  if (points < features)
    throw new HplbError('INVALID_PROBLEM', `least squares needs at least ${features} points, got ${points}`);
  const w = weights ?? observed.map(() => 1);
  if (w.length !== points || !w.every((x) => Number.isFinite(x) && x > 0)) {
    throw new HplbError('INVALID_PROBLEM', 'least squares weights must be one positive number per point');
  }
  // a holds the weighted design column-major, b the weighted observations; both are reduced in place
  const a = Array.from({ length: features }, (_, j) => Float64Array.from(design, (row, i) => row[j] * w[i]));
  const b = Float64Array.from(observed, (y, i) => y * w[i]);
  const scale = a.map((column) => Math.hypot(...column));
  for (let j = 0; j < features; j++) {
    const norm = Math.hypot(...a[j].subarray(j));
    if (norm <= 1e-12 * (scale[j] || 1))
      throw new HplbError('INVALID_PROBLEM', `feature ${j} is linearly dependent on the others (or zero)`);
    const alpha = a[j][j] > 0 ? -norm : norm;
    const v = Float64Array.from(a[j].subarray(j));
    v[0] -= alpha;
    const vv = v.reduce((sum, x) => sum + x * x, 0);
    const reflect = (column: Float64Array): void => {
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += v[i] * column[j + i];
      const factor = (2 * dot) / vv;
      for (let i = 0; i < v.length; i++) column[j + i] -= factor * v[i];
    };
    for (let k = j; k < features; k++) reflect(a[k]);
    reflect(b);
  }
  const coefficients = new Array<number>(features).fill(0);
  for (let j = features - 1; j >= 0; j--) {
    let sum = b[j];
    for (let k = j + 1; k < features; k++) sum -= a[k][j] * coefficients[k];
    coefficients[j] = sum / a[j][j];
  }
  const predictions = design.map((row) => predict(row, coefficients));
  const residuals = observed.map((y, i) => y - predictions[i]);
  const mean = observed.reduce((sum, y) => sum + y, 0) / points;
  const total = observed.reduce((sum, y) => sum + (y - mean) ** 2, 0);
  const residual = residuals.reduce((sum, r) => sum + r * r, 0);
  return { coefficients, predictions, residuals, r2: total > 0 ? 1 - residual / total : residual === 0 ? 1 : 0 };
}
