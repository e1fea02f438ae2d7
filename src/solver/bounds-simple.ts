import { binPackingBound, effectiveMinUnits } from './bounds-dm.ts';
import { sum } from './problem.ts';
import type { LayerProblem } from './types.ts';

/**
 * The lower bounds on a layer's makespan that look at unit costs only (bounds.ts adds what KV
 * groups and phase mixes add). Group costs only add load, so each holds with them too.
 */

/**
 * The largest of the bounds below, lifted to whole numbers where costs are: every bound holds for
 * every feasible placement, so any gap computed against it is true.
 */
export function unitCostBound(problem: LayerProblem): number {
  const simple = Math.max(fluidBound(problem), largestUnitBound(problem), pigeonholeBound(problem));
  // The packing bound starts from the simple ones and only searches above them.
  return integerRoundedBound(problem, binPackingBound(problem, simple));
}

/**
 * With whole-number costs and group costs (below 2^53, where sums are exact) and equal speeds s,
 * every makespan is an integer over s, so a bound B lifts to ceil(B * s) / s. B * s is shrunk by
 * 1e-12 first: a bound that is an integer up to rounding must not be lifted to the next one. Not
 * for a mix, whose objective is a weighted sum.
 */
export function integerRoundedBound(problem: LayerProblem, bound: number): number {
  const s = problem.speeds[0];
  if (problem.phases || !problem.speeds.every((v) => v === s)) return bound;
  const groupCosts = problem.groupCosts ?? [];
  const whole = (xs: readonly number[]) => xs.every((c) => Number.isInteger(c));
  if (!whole(problem.costs) || !whole(groupCosts) || !(sum(problem.costs) + sum(groupCosts) < 2 ** 53)) return bound;
  return Math.max(bound, Math.ceil(bound * s * (1 - 1e-12)) / s);
}

/**
 * Fluid bound: even if work could be split freely, the GPUs together need total / sum(speeds),
 * and the slowest of them cannot finish before the average.
 */
export function fluidBound(problem: LayerProblem): number {
  return sum(problem.costs) / sum(problem.speeds);
}

/** Largest unit: each unit lands on some GPU it may use, at best the fastest one (or its pin). */
export function largestUnitBound(problem: LayerProblem): number {
  const fastest = Math.max(...problem.speeds);
  let bound = 0;
  problem.costs.forEach((c, u) => {
    const pin = problem.unit2pin?.[u] ?? -1;
    bound = Math.max(bound, c / (pin >= 0 ? problem.speeds[pin] : fastest));
  });
  return bound;
}

/**
 * Cardinality-aware pigeonhole bound. Sort costs descending; among the j largest units some GPU
 * receives at least t = ceil(j / G) of them, so its load is at least the t smallest of those j.
 * When every GPU must hold at least m units, that GPU also holds m - t further units, each no
 * cheaper than the cheapest units outside the top j. Divided by the fastest speed, since we do
 * not know which GPU it is. With m = k (equal counts) this is much stronger than total / G. The m
 * counted includes what the maximum forces (effectiveMinUnits).
 */
export function pigeonholeBound(problem: LayerProblem): number {
  const gpus = problem.speeds.length;
  const sorted = [...problem.costs].sort((a, b) => b - a);
  const units = sorted.length;
  const fastest = Math.max(...problem.speeds);
  const minUnits = effectiveMinUnits(problem);
  const ascending = [...sorted].reverse();
  const prefixAsc = [0];
  for (const c of ascending) prefixAsc.push(prefixAsc[prefixAsc.length - 1] + c);
  const prefixDesc = [0];
  for (const c of sorted) prefixDesc.push(prefixDesc[prefixDesc.length - 1] + c);
  let bound = 0;
  for (let j = 1; j <= units; j++) {
    const t = Math.ceil(j / gpus);
    const topPart = prefixDesc[j] - prefixDesc[j - t];
    const rest = Math.max(0, minUnits - t);
    const bottomCount = units - j;
    // The m - t other units are distinct; each is either in the bottom (then at least the
    // smallest bottom values) or in the top j (then at least as large as any bottom unit).
    // Beyond the bottom's size we count nothing more, which keeps the bound valid.
    const restPart = prefixAsc[Math.min(rest, bottomCount)];
    bound = Math.max(bound, (topPart + restPart) / fastest);
  }
  return bound;
}
