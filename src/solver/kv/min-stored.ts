/**
 * The fewest KV heads any placement of a layer can store, whatever its makespan: the KV-cache
 * cap's feasibility and the static bound of the second objective.
 */
import { effectiveMinUnits } from '../bounds-dm.ts';
import type { LayerProblem } from '../types.ts';
import { groupMembers } from './groups.ts';

/** Most (groups, GPUs, component size) steps the exact count may take before it settles for the bound. */
const MOST_DP_STEPS = 4_000_000;

/**
 * KV heads the contiguous placement stores: units [g * k, (g + 1) * k) on GPU g, k = ceil(units /
 * gpus) (engines/contiguous.ts), each GPU storing the distinct groups of its block. Without
 * unit2group every unit is its own group.
 * @param unit2group [units] group of each unit, or null (units are whole groups)
 */
export function contiguousStoredKvHeads(unit2group: readonly number[] | null, units: number, gpus: number): number {
  if (!unit2group) return units;
  const perGpu = Math.ceil(units / gpus);
  let stored = 0;
  for (let first = 0; first < units; first += perGpu) {
    const groups = new Set<number>();
    for (let u = first; u < Math.min(units, first + perGpu); u++) groups.add(unit2group[u]);
    stored += groups.size;
  }
  return stored;
}

/** GPUs that hold at least one unit in every placement: all of them under a minimum, else as few as the maximum allows. */
export function gpusHoldingUnits(problem: LayerProblem): number {
  if (effectiveMinUnits(problem) >= 1) return problem.speeds.length;
  return Math.ceil(problem.costs.length / Math.max(1, problem.maxUnitsPerGpu));
}

/**
 * A valid lower bound on the KV heads stored by any placement that meets the layer's unit counts
 * and pins (its makespan aside). Units that are whole groups store one each: the units. With
 * unit2group, the larger of:
 * - pins: every (group, GPU) pair a pin forces, plus one copy for each group no pin stores and
 *   one group for each GPU that must hold a unit and has no pin (one copy may serve both);
 * - counts (groups of equal size s, pins and KV-group limits relaxed): a placement's (group, GPU)
 *   pairs form a bipartite graph with at least groups + GPUs used - components edges, and a
 *   component of a groups on b GPUs needs b x min <= a x s <= b x max; laying each component out
 *   contiguously meets that, so the least over splits into components (a dynamic program) is the
 *   fewest KV heads of the relaxed problem, exactly.
 */
export function minStoredKvHeads(problem: LayerProblem): number {
  if (!problem.unit2group) return problem.contiguousKvHeads !== undefined ? problem.costs.length : 0;
  const members = groupMembers(problem).filter((list) => list.length > 0);
  const sizes = new Set(members.map((list) => list.length));
  const byCounts = sizes.size === 1 ? componentBound(problem, members.length, [...sizes][0]) : 0;
  return Math.max(pinBound(problem, members.length), byCounts, members.length, gpusHoldingUnits(problem));
}

function pinBound(problem: LayerProblem, groups: number): number {
  const unit2pin = problem.unit2pin;
  const unit2group = problem.unit2group!;
  if (!unit2pin) return 0;
  const pairs = new Set<number>();
  const pinnedGroups = new Set<number>();
  const pinnedGpus = new Set<number>();
  unit2pin.forEach((g, u) => {
    if (g < 0) return;
    pairs.add(unit2group[u] * problem.speeds.length + g);
    pinnedGroups.add(unit2group[u]);
    pinnedGpus.add(g);
  });
  const gpusLeft = Math.max(0, gpusHoldingUnits(problem) - pinnedGpus.size);
  return pairs.size + Math.max(groups - pinnedGroups.size, gpusLeft);
}

/**
 * The dynamic program of minStoredKvHeads over components: f[x][y] = least sum of (b - 1) over
 * components holding x groups on y GPUs; the answer is groups + f[groups][G] (every GPU holds a
 * unit) or the least f[groups][y], y <= G (GPUs may stay empty). 0 (no bound) when it would take
 * more than MOST_DP_STEPS.
 */
function componentBound(problem: LayerProblem, groups: number, size: number): number {
  const gpus = problem.speeds.length;
  const lo = effectiveMinUnits(problem);
  const hi = problem.maxUnitsPerGpu;
  const range = (a: number): [number, number] => {
    const least = Math.max(1, Math.ceil((a * size) / hi));
    const most = lo > 0 ? Math.min(gpus, Math.floor((a * size) / lo)) : least;
    return [least, most];
  };
  let steps = 0;
  for (let a = 1; a <= groups; a++) {
    const [least, most] = range(a);
    steps += Math.max(0, most - least + 1) * groups * (gpus + 1);
  }
  if (steps > MOST_DP_STEPS) return 0;
  const width = gpus + 1;
  const f = new Float64Array((groups + 1) * width).fill(Infinity);
  f[0] = 0;
  for (let x = 0; x < groups; x++) {
    for (let y = 0; y <= gpus; y++) {
      const here = f[x * width + y];
      if (here === Infinity) continue;
      for (let a = 1; a + x <= groups; a++) {
        const [least, most] = range(a);
        for (let b = least; b <= most && y + b <= gpus; b++) {
          const at = (x + a) * width + y + b;
          f[at] = Math.min(f[at], here + b - 1);
        }
      }
    }
  }
  const last = f.subarray(groups * width, (groups + 1) * width);
  const best = lo > 0 ? last[gpus] : Math.min(...last);
  return Number.isFinite(best) ? groups + best : 0;
}
