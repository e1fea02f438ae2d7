import { leastCopiesCost } from '../kv/bounds.ts';
import { sum } from '../problem.ts';
import type { LayerProblem } from '../types.ts';
import type { LayerSplits } from './types.ts';

/**
 * A lower bound on the makespan of a layer whose units may be split, valid for every split
 * answer. An answer either splits no unit (then `wholeBound`, a valid bound of the whole-unit
 * problem, holds) or splits m = 1..maxSplitHeads units; then, with costs sorted descending:
 * - fluid bound with overheads and copies: a split unit with k >= 2 parts costs at least 2
 *   overheads more than its variable cost, so the total is at least sum(costs) + m * min over units
 *   of (2 partOverhead - fixed); the owners form a whole-unit placement, so at least
 *   minStoredKvHeads copies are stored, every group once and each further one at the cheapest group
 *   cost; all spread over the summed speeds;
 * - one of the m + 1 largest units (each with its group's copy) stays whole, so some GPU carries at
 *   least the (m+1)-th largest cost plus copy (at the fastest speed);
 * - largest part: a unit is whole, or its largest part holds at least variable / maxPartsPerHead
 *   plus the overhead, and its GPU the unit's group; pinned units are never split and run at their
 *   pinned GPU's speed.
 * The bound is the least over m of the largest of these.
 */
export function splitLowerBound(problem: LayerProblem, splits: LayerSplits, wholeBound: number): number {
  const fastest = Math.max(...problem.speeds);
  const speedSum = sum(problem.speeds);
  const copy = (u: number) => (problem.unit2group ? (problem.groupCosts?.[problem.unit2group[u]] ?? 0) : 0);
  // The owners form a whole-unit placement: their copies cost at least this (parts only add).
  const copies = leastCopiesCost(problem);
  const total = sum(problem.costs) + (copies.once + copies.further);
  const sorted = problem.costs.map((c, u) => c + copy(u)).sort((a, b) => b - a);
  let partBound = 0;
  let cheapestExtra = Infinity;
  problem.costs.forEach((c, u) => {
    const pin = problem.unit2pin?.[u] ?? -1;
    if (pin >= 0) {
      partBound = Math.max(partBound, (c + copy(u)) / problem.speeds[pin]);
      return;
    }
    const unit = splits.units[u];
    const fixed = c - unit.variable;
    cheapestExtra = Math.min(cheapestExtra, 2 * unit.partOverhead - fixed);
    const part = Math.min(c, unit.variable / splits.maxPartsPerHead + unit.partOverhead);
    partBound = Math.max(partBound, (part + copy(u)) / fastest);
  });
  let bound = wholeBound;
  if (!Number.isFinite(cheapestExtra)) return bound;
  const most = Math.min(splits.maxSplitHeads, problem.costs.length);
  for (let m = 1; m <= most; m++) {
    const fluid = (total + m * cheapestExtra) / speedSum;
    const whole = m < sorted.length ? sorted[m] / fastest : 0;
    bound = Math.min(bound, Math.max(fluid, whole, partBound));
  }
  return Math.max(0, bound);
}
