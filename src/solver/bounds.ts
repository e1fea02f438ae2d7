import { sum } from './problem.ts';
import type { LayerProblem } from './types.ts';

/**
 * The best lower bound on a layer's makespan that is cheap to compute: the largest of the bounds
 * below. Every bound holds for every feasible placement, so any gap computed against it is true.
 */
export function layerLowerBound(problem: LayerProblem): number {
  return Math.max(fluidBound(problem), largestUnitBound(problem), pigeonholeBound(problem));
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
 * not know which GPU it is. With m = k (equal counts) this is much stronger than total / G.
 */
export function pigeonholeBound(problem: LayerProblem): number {
  const gpus = problem.speeds.length;
  const sorted = [...problem.costs].sort((a, b) => b - a);
  const units = sorted.length;
  const fastest = Math.max(...problem.speeds);
  const ascending = [...sorted].reverse();
  const prefixAsc = [0];
  for (const c of ascending) prefixAsc.push(prefixAsc[prefixAsc.length - 1] + c);
  const prefixDesc = [0];
  for (const c of sorted) prefixDesc.push(prefixDesc[prefixDesc.length - 1] + c);
  let bound = 0;
  for (let j = 1; j <= units; j++) {
    const t = Math.ceil(j / gpus);
    const topPart = prefixDesc[j] - prefixDesc[j - t];
    const rest = Math.max(0, problem.minUnitsPerGpu - t);
    const bottomCount = units - j;
    // The m - t other units are distinct; each is either in the bottom (then at least the
    // smallest bottom values) or in the top j (then at least as large as any bottom unit).
    // Beyond the bottom's size we count nothing more, which keeps the bound valid.
    const restPart = prefixAsc[Math.min(rest, bottomCount)];
    bound = Math.max(bound, (topPart + restPart) / fastest);
  }
  return bound;
}
