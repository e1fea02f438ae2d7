import type { LayerProblem } from '../types.ts';
import type { LayerSplits, SharePlan } from './types.ts';

/** Units alike to the split rules: same cost, variable cost and part overhead, none pinned. */
interface UnitClass {
  readonly cost: number;
  readonly variable: number;
  readonly overhead: number;
  /** The units of the class, ascending. */
  readonly units: readonly number[];
}

/** The unpinned units grouped by (cost, variable cost, part overhead), in order of first unit. */
function unitClasses(problem: LayerProblem, splits: LayerSplits): UnitClass[] {
  const byKey = new Map<string, UnitClass & { units: number[] }>();
  problem.costs.forEach((cost, u) => {
    if ((problem.unit2pin?.[u] ?? -1) >= 0) return;
    const { variable, partOverhead: overhead } = splits.units[u];
    const key = `${cost}|${variable}|${overhead}`;
    const known = byKey.get(key);
    if (known) known.units.push(u);
    else byKey.set(key, { cost, variable, overhead, units: [u] });
  });
  return [...byKey.values()];
}

/** What the chain put on one GPU: whole units per class, and the unit it shares with the next GPU. */
interface Link {
  readonly whole: readonly number[];
  /** Class of the unit split with the next GPU, its share on this GPU and whether this GPU owns it. */
  readonly boundary: { readonly cls: number; readonly share: number; readonly ownedHere: boolean } | null;
}

/**
 * McNaughton's wrap-around generalised to the split rules, as a search: GPUs are filled in order to
 * `level` (times their speed), each with whole units counted by class, and a unit may straddle
 * a GPU and the next (two parts, the owner's the larger; the owner counts it in units-per-GPU).
 * Depth-first over the classes' counts, filling each GPU as far as it can (the least carried into
 * the next GPU), pruning when what is left cannot fit in the GPUs left, and remembering, per GPU,
 * counts left, splits left and ownership of the carried part, the least carry that failed (more
 * carry fails too). Like units are interchangeable, so the search is small when classes are few.
 * @param workBudget most steps, each weighed by the number of classes (its cost)
 * @returns a plan with makespan <= level (up to rounding), or null when none was found within the
 *   budget (which proves nothing)
 */
export function chainPlan(
  problem: LayerProblem,
  splits: LayerSplits,
  level: number,
  workBudget: number,
): SharePlan | null {
  const gpus = problem.speeds.length;
  const classes = unitClasses(problem, splits);
  const left = classes.map((k) => k.units.length);
  const pinnedCount = new Array<number>(gpus).fill(0);
  const pinnedSum = new Array<number>(gpus).fill(0);
  problem.costs.forEach((cost, u) => {
    const pin = problem.unit2pin?.[u] ?? -1;
    if (pin < 0) return;
    pinnedCount[pin] += 1;
    pinnedSum[pin] += cost;
  });
  const capacity = problem.speeds.map((s, g) => level * s - pinnedSum[g]);
  const capacityFrom = capacity.map((_, i) => capacity.slice(i).reduce((a, b) => a + b, 0));
  // Least a unit of a class costs, whole or split in two.
  const least = classes.map((k) => Math.min(k.cost, k.variable + 2 * k.overhead));
  const eps = 1e-12 * level * Math.max(...problem.speeds) * gpus;
  const { minUnitsPerGpu: lo, maxUnitsPerGpu: hi } = problem;
  const limitHeld = lo < hi;
  const failed = new Map<string, number>();
  const links: Link[] = [];
  let work = 0;

  const visit = (i: number, carry: number, carryOwned: boolean, splitsLeft: number): boolean => {
    work += classes.length;
    if (work > workBudget) return false;
    const rest = left.reduce((s, n, k) => s + n * least[k], 0);
    if (carry + rest > capacityFrom[i] + eps) return false;
    const key = `${i}|${left.join(',')}|${carryOwned}|${carry > 0}|${splitsLeft}`;
    if ((failed.get(key) ?? Infinity) <= carry) return false;
    const last = i === gpus - 1;
    const owned = pinnedCount[i] + (carryOwned ? 1 : 0);
    const held = pinnedCount[i] + (carry > 0 ? 1 : 0);
    const most = hi - owned;
    const limit = (workBudget - work) / classes.length;
    const { choices, steps } = wholeChoices(classes, left, capacity[i] - carry + eps, most, limit);
    // Enumerating counts is work too: with many distinct units, the budget runs out here.
    work += steps * classes.length;
    for (const whole of choices) {
      if (work > workBudget) return false;
      const count = whole.reduce((a, b) => a + b, 0);
      if (last && whole.some((n, k) => n !== left[k])) continue;
      const room = capacity[i] - carry - whole.reduce((s, n, k) => s + n * classes[k].cost, 0);
      whole.forEach((n, k) => (left[k] -= n));
      let done = false;
      const ownedNone = owned + count;
      if (room >= -eps && ownedNone >= lo && ownedNone <= hi && (!limitHeld || held + count <= hi)) {
        done = follow(i, { whole, boundary: null }, 0, false, splitsLeft);
      }
      const canSplit = !last && splitsLeft > 0 && (!limitHeld || held + count + 1 <= hi);
      for (let k = 0; canSplit && !done && work <= workBudget && k < classes.length; k++) {
        const { variable: v, overhead: o } = classes[k];
        if (left[k] === 0 || v <= 0) continue;
        const fill = (room - o) / v;
        left[k] -= 1;
        // This GPU owns the unit: it keeps at least half; the next GPU owns it: at most half.
        if (fill >= 0.5 && fill < 1 && owned + count + 1 >= lo && owned + count + 1 <= hi) {
          const link = { whole, boundary: { cls: k, share: fill, ownedHere: true } };
          done = follow(i, link, (1 - fill) * v + o, false, splitsLeft - 1);
        }
        const share = Math.min(0.5, fill);
        if (!done && share > 1e-9 && ownedNone >= lo && ownedNone <= hi) {
          const link = { whole, boundary: { cls: k, share, ownedHere: false } };
          done = follow(i, link, (1 - share) * v + o, true, splitsLeft - 1);
        }
        left[k] += 1;
      }
      whole.forEach((n, k) => (left[k] += n));
      if (done) return true;
    }
    failed.set(key, Math.min(failed.get(key) ?? Infinity, carry));
    return false;
  };
  /** Puts GPU i's link on the chain and goes on with GPU i + 1 (GPU i the last: done). */
  function follow(i: number, link: Link, carry: number, carryOwned: boolean, splitsLeft: number): boolean {
    links.push(link);
    if (i === gpus - 1 || visit(i + 1, carry, carryOwned, splitsLeft)) return true;
    links.pop();
    return false;
  }

  if (!visit(0, 0, false, splits.maxSplitHeads)) return null;
  return decode(problem, classes, links);
}

/**
 * Whole-unit counts per class within `left`, at most `most` units and `room` cost, fullest first,
 * and the steps it took; it stops after `limit` steps.
 */
function wholeChoices(
  classes: readonly UnitClass[],
  left: readonly number[],
  room: number,
  most: number,
  limit: number,
): { choices: number[][]; steps: number } {
  const walk: ChoiceWalk = { classes, left, room, most, limit, steps: 0, counts: classes.map(() => 0), out: [] };
  walkChoices(walk, 0, 0, 0);
  return { choices: walk.out.sort((a, b) => b.cost - a.cost).map((c) => c.counts), steps: walk.steps };
}

interface ChoiceWalk {
  readonly classes: readonly UnitClass[];
  readonly left: readonly number[];
  readonly room: number;
  readonly most: number;
  readonly limit: number;
  steps: number;
  readonly counts: number[];
  readonly out: { counts: number[]; cost: number }[];
}

function walkChoices(walk: ChoiceWalk, k: number, units: number, cost: number): void {
  if (++walk.steps > walk.limit) return;
  if (k === walk.classes.length) {
    walk.out.push({ counts: [...walk.counts], cost });
    return;
  }
  const unitCost = walk.classes[k].cost;
  for (let n = 0; n <= walk.left[k] && units + n <= walk.most && cost + n * unitCost <= walk.room; n++) {
    walk.counts[k] = n;
    walkChoices(walk, k + 1, units + n, cost + n * unitCost);
  }
  walk.counts[k] = 0;
}

/** The chain as a share plan: a class's units in order, whole ones first by GPU. */
function decode(problem: LayerProblem, classes: readonly UnitClass[], links: readonly Link[]): SharePlan {
  const unit2gpu = problem.costs.map((_, u) => problem.unit2pin?.[u] ?? -1);
  const parts = new Map<number, { gpu: number; share: number }[]>();
  const next = classes.map(() => 0);
  const take = (k: number) => classes[k].units[next[k]++];
  links.forEach((link, g) => {
    link.whole.forEach((n, k) => {
      for (let i = 0; i < n; i++) unit2gpu[take(k)] = g;
    });
    if (!link.boundary) return;
    const u = take(link.boundary.cls);
    const { share, ownedHere } = link.boundary;
    unit2gpu[u] = ownedHere ? g : g + 1;
    parts.set(u, [
      { gpu: g, share },
      { gpu: g + 1, share: 1 - share },
    ]);
  });
  return { unit2gpu, parts };
}
