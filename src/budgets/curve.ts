/**
 * Recovery curves (budget -> recovery ratio) and the smallest budget that reaches a target.
 * Pure.
 *
 * A curve is valid when it has at least one point, budgets are positive integers (tokens per
 * query row) and strictly ascending, recoveries lie in [0, 1], and recovery never falls by more than CURVE_TOLERANCE
 * from one point to the next (a measured curve may wobble by rounding; a real fall means the
 * curve is not a recovery curve).
 *
 * Interpolation rules for the smallest budget reaching target tau:
 * - 'linear' (default): find the first point i with recovery >= tau. If i = 0 the answer is
 *   budget[0] (no extrapolation below the measured range). Otherwise interpolate linearly
 *   between points i - 1 and i and round the budget up to a whole token.
 * - 'step': budget[i] itself (only measured budgets are answered).
 * A curve that never reaches tau has no answer: an error, since the head needs more budget than
 * was measured.
 */
import { HplbError } from '../errors.ts';

export const CURVE_TOLERANCE = 1e-6;

export type Interpolation = 'linear' | 'step';

export interface CurvePoint {
  /** Tokens attended per query row. */
  readonly budget: number;
  /** Share of the full attention mass kept, in [0, 1]. */
  readonly recovery: number;
}

/** Throws INVALID_CURVE, with `pointer` under `at`, when the points are not a valid curve. */
export function validateCurve(points: readonly CurvePoint[], at = ''): void {
  const fail = (message: string, pointer: string): never => {
    throw new HplbError('INVALID_CURVE', message, { pointer: `${at}${pointer}` });
  };
  if (!Array.isArray(points) || points.length === 0) fail('a recovery curve needs at least one point', '/points');
  points.forEach((point, i) => {
    const { budget, recovery } = point ?? {};
    if (!Number.isInteger(budget) || budget < 1)
      fail(
        `point ${i}: budget must be a positive integer (tokens per query row), got ${budget}`,
        `/points/${i}/budget`,
      );
    if (typeof recovery !== 'number' || !(recovery >= 0 && recovery <= 1))
      fail(`point ${i}: recovery must lie in [0, 1], got ${recovery}`, `/points/${i}/recovery`);
    if (i === 0) return;
    const previous = points[i - 1];
    if (budget <= previous.budget)
      fail(`point ${i}: budgets must be strictly ascending (${previous.budget} then ${budget})`, `/points/${i}/budget`);
    if (recovery < previous.recovery - CURVE_TOLERANCE) {
      fail(
        `point ${i}: curve is not monotone, recovery falls from ${previous.recovery} at budget ${previous.budget} to ${recovery} at budget ${budget}`,
        `/points/${i}/recovery`,
      );
    }
  });
}

/** Recovery at `budget` read off a valid curve with the given rule (clamped to the end points). */
export function recoveryAt(points: readonly CurvePoint[], budget: number, interpolation: Interpolation): number {
  if (budget <= points[0].budget) return points[0].recovery;
  for (let i = 1; i < points.length; i++) {
    const right = points[i];
    if (budget > right.budget) continue;
    if (budget === right.budget || interpolation === 'step')
      return budget === right.budget ? right.recovery : points[i - 1].recovery;
    const left = points[i - 1];
    return left.recovery + ((budget - left.budget) * (right.recovery - left.recovery)) / (right.budget - left.budget);
  }
  return points[points.length - 1].recovery;
}

/**
 * Smallest budget (a whole token count under 'linear', a measured budget under 'step') whose recovery
 * reaches `target` on a valid curve. Throws INVALID_CURVE when the curve never reaches it.
 */
export function minimalBudget(
  points: readonly CurvePoint[],
  target: number,
  interpolation: Interpolation,
  at = '',
): number {
  const i = points.findIndex((point) => point.recovery >= target);
  if (i < 0) {
    const best = points[points.length - 1];
    throw new HplbError(
      'INVALID_CURVE',
      `curve never reaches the target ${target}: at most ${best.recovery} at budget ${best.budget}; measure larger budgets`,
      { pointer: `${at}/points` },
    );
  }
  if (i === 0 || interpolation === 'step') return points[i].budget;
  const left = points[i - 1];
  const right = points[i];
  const exact =
    left.budget + ((target - left.recovery) * (right.budget - left.budget)) / (right.recovery - left.recovery);
  // a whole token at or above the exact crossing, never past the measured point
  return Math.min(right.budget, Math.ceil(exact - 1e-9));
}
