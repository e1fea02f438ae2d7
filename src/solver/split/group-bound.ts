import type { LayerProblem } from '../types.ts';
import type { LayerSplits } from './types.ts';

/** Most sub-multisets of the units the dynamic program keeps (beyond it, no bound: 0). */
const MOST_STATES = 50_000;
/** Most (multiset, group) steps it takes before giving up (about a hundred milliseconds). */
const MOST_STEPS = 30_000_000;

/**
 * A lower bound for few split heads, from the groups of GPUs that splits join. Join the GPUs that
 * hold parts of one split unit: with at most S split units of at most P parts, the GPUs fall into
 * r >= G - S (P - 1) groups, and every unit lies in one group (its parts too). Under an equal
 * units-per-GPU rule a group of c GPUs owns exactly c units-per-GPU units; a group of one GPU
 * holds its units whole, a larger group's units cost at least min(cost, variable + 2 overhead)
 * each; its busiest GPU carries at least its total / c (identical speeds). So the makespan is at
 * least the least, over partitions of the units into >= r such groups, of the largest group
 * average: a dynamic program over the classes' counts (like units are interchangeable).
 * Returns 0 (no bound) where it does not apply (speeds differ, pins, another rule, S (P - 1) >=
 * G - 1) or would take too long.
 */
export function groupLowerBound(problem: LayerProblem, splits: LayerSplits): number {
  const gpus = problem.speeds.length;
  const perGpu = problem.minUnitsPerGpu;
  const joins = splits.maxSplitHeads * (splits.maxPartsPerHead - 1);
  const groups = gpus - joins;
  const speed = problem.speeds[0];
  const alike = problem.speeds.every((s) => s === speed) && !(problem.unit2pin ?? []).some((g) => g >= 0);
  if (groups <= 1 || !alike || perGpu !== problem.maxUnitsPerGpu || perGpu === 0) return 0;
  const byKey = new Map<string, { cost: number; least: number; count: number }>();
  problem.costs.forEach((cost, u) => {
    const { variable, partOverhead } = splits.units[u];
    const key = `${cost}|${variable}|${partOverhead}`;
    const known = byKey.get(key) ?? { cost, least: Math.min(cost, variable + 2 * partOverhead), count: 0 };
    known.count += 1;
    byKey.set(key, known);
  });
  const classes = [...byKey.values()];
  const K = classes.length;
  // Sub-multisets of the units as mixed-radix numbers: digit k counts units of class k.
  const radix: number[] = [];
  let states = 1;
  for (const { count } of classes) {
    radix.push(states);
    states *= count + 1;
  }
  if (states > MOST_STATES) return 0;
  const digit = (index: number, k: number) => Math.floor(index / radix[k]) % (classes[k].count + 1);
  const largestGroup = (joins + 1) * perGpu;
  const size = new Int32Array(states);
  const whole = new Float64Array(states);
  const least = new Float64Array(states);
  for (let index = 1; index < states; index++) {
    // The state with the lowest nonzero digit one less, plus one unit of that class.
    let k = 0;
    while (digit(index, k) === 0) k++;
    const before = index - radix[k];
    size[index] = size[before] + 1;
    whole[index] = whole[before] + classes[k].cost;
    least[index] = least[before] + classes[k].least;
  }
  const average = (group: number): number => {
    const c = size[group] / perGpu;
    return c === 1 ? whole[group] : least[group] / c;
  };
  // best[v * (groups + 1) + r]: least largest average over partitions of v into >= r groups.
  const width = groups + 1;
  const best = new Float64Array(states * width).fill(Infinity);
  best[0] = 0;
  const walk: GroupWalk = {
    radix,
    limits: new Int32Array(K),
    size,
    largestGroup,
    perGpu,
    width,
    best,
    average,
    v: 0,
    steps: 0,
  };
  for (let v = 1; v < states; v++) {
    if (size[v] % perGpu !== 0) continue;
    walk.v = v;
    let first = 0;
    for (let k = 0; k < K; k++) walk.limits[k] = digit(v, k);
    while (walk.limits[first] === 0) first++;
    // Every group within v holding a unit of v's first class (so each partition is met once).
    walk.limits[first] -= 1;
    eachGroup(walk, 0, radix[first], 1);
    if (walk.steps > MOST_STEPS) return 0;
  }
  const bound = best[(states - 1) * width + groups] / speed;
  return Number.isFinite(bound) ? bound : 0;
}

/** The dynamic program's tables and the multiset v whose groups are being walked. */
interface GroupWalk {
  readonly radix: readonly number[];
  /** [classes] units of v per class still free to join the group. */
  readonly limits: Int32Array;
  readonly size: Int32Array;
  readonly largestGroup: number;
  readonly perGpu: number;
  readonly width: number;
  readonly best: Float64Array;
  readonly average: (group: number) => number;
  v: number;
  /** Groups met so far, each costing `width` steps. */
  steps: number;
}

/** Every group g within v from class k on (g holding `units` so far), each relaxing best[v]. */
function eachGroup(walk: GroupWalk, k: number, g: number, units: number): void {
  if (k === walk.radix.length) {
    if (units % walk.perGpu !== 0) return;
    const { best, width, v } = walk;
    walk.steps += width;
    const own = walk.average(g);
    const rest = (v - g) * width;
    const at = v * width;
    for (let r = 0; r < width; r++) {
      const value = Math.max(own, best[rest + Math.max(0, r - 1)]);
      if (value < best[at + r]) best[at + r] = value;
    }
    return;
  }
  const most = Math.min(walk.limits[k], walk.largestGroup - units);
  for (let n = 0; n <= most; n++) eachGroup(walk, k + 1, g + n * walk.radix[k], units + n);
}
