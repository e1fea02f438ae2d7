import type { LayerProblem } from './types.ts';

/**
 * Bin-packing lower bounds in the style of Dell'Amico and Martello ("Optimal scheduling of tasks
 * on identical parallel processors", 1995; "Bounds for the cardinality constrained P||Cmax
 * problem", 2001): a trial makespan C is refuted when the units provably cannot be packed into
 * the GPUs with capacity C each; the largest refuted C is a lower bound.
 *
 * Pins and KV-group limits only remove placements, so a bound of the problem without them holds
 * with them. Speeds are relaxed to the fastest one (every GPU may hold C * fastest of work), which
 * only adds placements too: the bound stays valid, and is exact in its assumptions when the
 * speeds are equal.
 */

/**
 * Least units on every GPU, counting what the maximum forces: when the other GPUs hold at most
 * maxUnitsPerGpu each, every GPU holds at least units - (gpus - 1) * max (Dell'Amico and Martello's
 * observation for k-partitioning; with units = gpus * k it is k).
 */
export function effectiveMinUnits(problem: LayerProblem): number {
  const units = problem.costs.length;
  const gpus = problem.speeds.length;
  return Math.max(problem.minUnitsPerGpu, units - (gpus - 1) * problem.maxUnitsPerGpu, 0);
}

/** Sorted costs and their prefix sums, shared by every trial of one bound computation. */
interface Packing {
  /** Costs in ascending order. */
  readonly asc: readonly number[];
  /** prefix[i] = sum of the i smallest costs. */
  readonly prefix: readonly number[];
  readonly gpus: number;
  readonly minUnits: number;
  readonly maxUnits: number;
  readonly total: number;
}

/** First index in `asc` whose value is above `x` (strictly). */
function firstAbove(asc: readonly number[], x: number): number {
  let lo = 0;
  let hi = asc.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (asc[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Whether `gpus` bins of capacity `cap` (in cost units) provably cannot hold every unit under the
 * cardinality limits. For each threshold p (a cost <= cap / 2), the units split into
 * J1 (> cap - p), J2 (in (cap / 2, cap - p]), J3 (in [p, cap / 2]) and J0 (< p):
 * - J1 and J2 units pairwise exceed cap, so each takes its own GPU;
 * - no J3 unit fits beside a J1 unit, so J3 lives in J2's residues and the free GPUs (by weight,
 *   Martello and Toth's L2, and by count: a GPU holds at most floor(room / p) of them and at most
 *   max units, one fewer beside a J2 unit);
 * - a GPU holding a J1 unit takes its other min - 1 units from J0 only.
 * Sums are compared with a slack above their rounding error, counts after a tiny upward nudge,
 * so a refutation is never an artefact of rounding.
 */
function refutes(pack: Packing, cap: number): boolean {
  const { asc, prefix, gpus, minUnits, maxUnits, total } = pack;
  const n = asc.length;
  const slack = 4 * (n + gpus) * Number.EPSILON * Math.max(total, gpus * cap);
  const floorUp = (x: number): number => Math.floor(x * (1 + 1e-12));
  if (asc[n - 1] > cap + slack) return true;
  const iHalf = firstAbove(asc, cap / 2);
  const big = n - iHalf;
  if (big > gpus) return true;
  // Every unit above cap / 2 has its own GPU and takes min - 1 companions of at most cap / 2.
  const companions = (minUnits - 1) * big;
  if (big > 0 && minUnits > 1) {
    if (companions > iHalf) return true;
    if (prefix[companions] > big * cap - (total - prefix[iHalf]) + slack) return true;
  }
  let previous = -1;
  for (let i = 0; i < iHalf; i++) {
    const p = asc[i];
    if (p <= 0 || p === previous) continue;
    previous = p;
    const i0 = i;
    const iBig = Math.max(iHalf, firstAbove(asc, cap - p));
    const n1 = n - iBig;
    const n2 = iBig - iHalf;
    const n3 = iHalf - i0;
    const free = gpus - n1 - n2;
    const sum1 = total - prefix[iBig];
    const sum2 = prefix[iBig] - prefix[iHalf];
    const sum3 = prefix[iHalf] - prefix[i0];
    if (sum3 > n2 * cap - sum2 + free * cap + slack) return true;
    let room = free * Math.min(maxUnits, floorUp(cap / p));
    for (let j = iHalf; j < iBig && room < n3; j++) room += Math.min(maxUnits - 1, floorUp((cap - asc[j]) / p));
    if (n3 > room) return true;
    const needed = (minUnits - 1) * n1;
    if (n1 > 0 && minUnits > 1 && (needed > i0 || prefix[needed] > n1 * cap - sum1 + slack)) return true;
  }
  return false;
}

/**
 * The largest trial makespan the packing test refutes, searched by bisection above `start` (a
 * bound already proven). Only refuted values are ever returned, so the answer is valid even where
 * the test is not monotone in C. Cheap: O(units * (log units + gpus)) per trial, and one trial
 * when the test cannot beat `start` by 1e-6.
 */
export function binPackingBound(problem: LayerProblem, start = 0): number {
  const units = problem.costs.length;
  if (units === 0) return 0;
  const asc = [...problem.costs].sort((a, b) => a - b);
  const prefix = [0];
  for (const c of asc) prefix.push(prefix[prefix.length - 1] + c);
  const total = prefix[units];
  const fastest = Math.max(...problem.speeds);
  const pack: Packing = {
    asc,
    prefix,
    total,
    gpus: problem.speeds.length,
    minUnits: effectiveMinUnits(problem),
    maxUnits: problem.maxUnitsPerGpu,
  };
  let lo = Math.max(start, 0);
  let hi = total / fastest;
  // The capacity tested is rounded up a little, so that refuting it refutes C itself.
  const capacity = (c: number): number => c * fastest * (1 + 4 * Number.EPSILON);
  if (!(hi > lo) || !refutes(pack, capacity(lo * (1 + 1e-6)))) return lo;
  lo *= 1 + 1e-6;
  for (let iter = 0; iter < 60 && hi - lo > 1e-13 * hi; iter++) {
    const mid = (lo + hi) / 2;
    if (refutes(pack, capacity(mid))) lo = mid;
    else hi = mid;
  }
  return lo;
}
