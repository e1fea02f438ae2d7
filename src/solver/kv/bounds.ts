/**
 * Lower bounds on a layer's makespan that count what KV groups cost and what the KV-cache cap
 * forces (one phase: the combined costs). Each holds for every feasible placement.
 */
import { unitCostBound } from '../bounds-simple.ts';
import { effectiveMinUnits } from '../bounds-dm.ts';
import { sum } from '../problem.ts';
import type { LayerProblem } from '../types.ts';
import { groupMembers } from './groups.ts';
import { gpusHoldingUnits, minStoredKvHeads } from './min-stored.ts';

/** The largest of the KV bounds below (0 without unit2group). */
export function kvMakespanBound(problem: LayerProblem): number {
  if (!problem.unit2group) return 0;
  return Math.max(
    sharedGroupCostBound(problem),
    copiesFluidBound(problem),
    largestWithGroupBound(problem),
    singleGroupBound(problem),
  );
}

/**
 * A GPU that stores group k runs at most m_k = min(|k|, max units per GPU) of its units, so each
 * unit's share of the copy is at least groupCosts[k] / m_k: every load is at least the sum of its
 * units' costs raised by that share. The unit-cost bounds (fluid, pigeonhole, bin packing) of the
 * raised costs therefore hold.
 */
export function sharedGroupCostBound(problem: LayerProblem): number {
  const groupCosts = problem.groupCosts;
  if (!groupCosts || !problem.unit2group) return 0;
  const members = groupMembers(problem);
  const unit2group = problem.unit2group;
  const costs = problem.costs.map((c, u) => {
    const k = unit2group[u];
    return c + groupCosts[k] / Math.min(members[k].length, problem.maxUnitsPerGpu);
  });
  return unitCostBound({
    layer: problem.layer,
    costs,
    speeds: problem.speeds,
    minUnitsPerGpu: problem.minUnitsPerGpu,
    maxUnitsPerGpu: problem.maxUnitsPerGpu,
    ...(problem.unit2pin ? { unit2pin: problem.unit2pin } : {}),
  });
}

/**
 * The least the copies of any placement cost in all (not divided by speed): every group with
 * units is stored at least once (`once`, their costs summed) and at least minStoredKvHeads copies
 * are stored, each further one costing at least the cheapest group cost (`further`). Both 0
 * without group costs.
 */
export function leastCopiesCost(problem: LayerProblem): { readonly once: number; readonly further: number } {
  const groupCosts = problem.groupCosts;
  if (!groupCosts || !problem.unit2group) return { once: 0, further: 0 };
  const members = groupMembers(problem);
  const present = groupCosts.filter((_, k) => (members[k]?.length ?? 0) > 0);
  if (present.length === 0) return { once: 0, further: 0 };
  const extra = Math.max(0, minStoredKvHeads(problem) - present.length);
  return { once: sum(present), further: extra * Math.min(...present) };
}

/** Fluid bound with copies: the units' costs and the least the copies cost (leastCopiesCost), over the summed speeds. */
export function copiesFluidBound(problem: LayerProblem): number {
  const copies = leastCopiesCost(problem);
  return (sum(problem.costs) + copies.once + copies.further) / sum(problem.speeds);
}

/** Largest unit with its group's copy: each unit's GPU stores its group (at its pin's speed, else the fastest). */
export function largestWithGroupBound(problem: LayerProblem): number {
  const fastest = Math.max(...problem.speeds);
  let bound = 0;
  problem.costs.forEach((c, u) => {
    const pin = problem.unit2pin?.[u] ?? -1;
    const groupCost = problem.groupCosts?.[problem.unit2group![u]] ?? 0;
    bound = Math.max(bound, (c + groupCost) / (pin >= 0 ? problem.speeds[pin] : fastest));
  });
  return bound;
}

/**
 * What the cap forces: with R KV heads stored on the U GPUs that hold units (each storing at least
 * one group), at most R - U GPUs store more than one, so at least m = 2U - R store exactly one
 * (all U with a limit of one group per GPU). Such a GPU holds at least max(1, min units) units of
 * its group; t of them on one group k hold disjoint sets of those, and the largest of their loads
 * is at least M_k(t) = (cheapest t x min units of k) / t + groupCosts[k] (over the fastest speed).
 * M_k grows with t, so the least largest load of m such GPUs is the m-th smallest of all M_k(t).
 */
export function singleGroupBound(problem: LayerProblem): number {
  const holding = gpusHoldingUnits(problem);
  const cap = problem.maxStoredGroups;
  const fromCap = cap !== undefined ? 2 * holding - cap : 0;
  const single = Math.max(fromCap, problem.maxGroupsPerGpu === 1 ? holding : 0);
  if (single <= 0) return 0;
  const least = Math.max(1, effectiveMinUnits(problem));
  const values: number[] = [];
  groupMembers(problem).forEach((units, k) => {
    const asc = units.map((u) => problem.costs[u]).sort((a, b) => a - b);
    const groupCost = problem.groupCosts?.[k] ?? 0;
    let prefix = 0;
    let taken = 0;
    for (let t = 1; t * least <= asc.length; t++) {
      while (taken < t * least) prefix += asc[taken++];
      values.push(prefix / t + groupCost);
    }
  });
  if (values.length < single) return 0;
  values.sort((a, b) => a - b);
  return values[single - 1] / Math.max(...problem.speeds);
}
