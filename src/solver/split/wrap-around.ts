import type { LayerProblem } from '../types.ts';
import { shareMakespan } from './part-cost.ts';
import type { LayerSplits, SharePlan } from './types.ts';

/** Most binary-search steps on the target level. */
const SEARCH_STEPS = 40;

/**
 * McNaughton-style wrap-around from a whole-unit placement, in three variants whose structures
 * (which units split, onto which GPUs) the share LP then balances:
 * - pour: for a target level T, every GPU above T cuts its largest splittable units and pours the
 *   excess, part by part, into the GPUs below T, lightest first; T is the least level at which
 *   this succeeds (binary search between `lowerBound` and the start's makespan);
 * - cascade, at the level `lowerBound`: a GPU may take more than its room and pass the surplus on
 *   by splitting one of its own units, as McNaughton's rule wraps a unit from one GPU to the next;
 *   once with each unit shedding all it can, once with an excess spread evenly over the units it
 *   needs. A cascade that runs out of splits still gives its structure.
 * @param unit2gpu [units] a whole-unit placement satisfying the layer's rules
 * @param precision relative width at which the search for the level stops
 * @returns candidate share plans, the start itself first
 */
export function wrapAround(
  problem: LayerProblem,
  splits: LayerSplits,
  unit2gpu: readonly number[],
  lowerBound: number,
  precision: number,
): SharePlan[] {
  let best: SharePlan = { unit2gpu: [...unit2gpu], parts: new Map() };
  const start = best;
  let bestMakespan = shareMakespan(problem, splits, best);
  let lo = lowerBound;
  let hi = bestMakespan;
  for (let step = 0; step < SEARCH_STEPS && hi - lo > (precision / 10) * hi; step++) {
    const level = (lo + hi) / 2;
    const plan = pour(problem, splits, unit2gpu, level);
    if (plan) {
      const makespan = shareMakespan(problem, splits, plan);
      if (makespan < bestMakespan) {
        best = plan;
        bestMakespan = makespan;
      }
      hi = level;
    } else {
      lo = level;
    }
  }
  const cascades = [false, true].map((even) => cascade(problem, splits, unit2gpu, lowerBound, even));
  return [start, best, ...cascades];
}

/**
 * What pour and cascade start from: each GPU's load and unit count under whole-head placement,
 * the most units a GPU may hold a part of (unbounded under equal counts, where only owners count),
 * and no parts yet.
 */
function startShares(problem: LayerProblem, unit2gpu: readonly number[]) {
  const sums = new Array<number>(problem.speeds.length).fill(0);
  const held = new Array<number>(problem.speeds.length).fill(0);
  unit2gpu.forEach((g, u) => {
    sums[g] += problem.costs[u];
    held[g] += 1;
  });
  const limitHeld = problem.minUnitsPerGpu < problem.maxUnitsPerGpu ? problem.maxUnitsPerGpu : Infinity;
  return { sums, held, limitHeld, parts: new Map<number, { gpu: number; share: number }[]>() };
}

/** Pours every GPU's load above `level` into GPUs below it; null when the limits do not allow it. */
function pour(
  problem: LayerProblem,
  splits: LayerSplits,
  unit2gpu: readonly number[],
  level: number,
): SharePlan | null {
  const gpus = problem.speeds.length;
  const speeds = problem.speeds;
  const { sums, held, limitHeld, parts } = startShares(problem, unit2gpu);
  const room = (g: number) => level * speeds[g] - sums[g];
  const heavy = Array.from({ length: gpus }, (_, g) => g)
    .filter((g) => room(g) < 0)
    .sort((a, b) => room(a) - room(b));
  for (const h of heavy) {
    const candidates = unit2gpu
      .map((_g, u) => u)
      .filter((u) => unit2gpu[u] === h && (problem.unit2pin?.[u] ?? -1) < 0 && splits.units[u].variable > 0)
      .sort((a, b) => problem.costs[b] - problem.costs[a] || a - b);
    for (const u of candidates) {
      if (room(h) >= 0) break;
      if (parts.size >= splits.maxSplitHeads) return null;
      const unit = splits.units[u];
      const v = unit.variable;
      const o = unit.partOverhead;
      // The owner's part replaces the whole unit on h.
      sums[h] += o + v - problem.costs[u];
      let ownerShare = 1;
      const list: { gpu: number; share: number }[] = [];
      const lights = Array.from({ length: gpus }, (_, g) => g)
        .filter((g) => g !== h && held[g] < limitHeld)
        .sort((a, b) => room(b) - room(a) || a - b);
      for (const l of lights) {
        if (room(h) >= 0 || list.length + 1 >= splits.maxPartsPerHead) break;
        const capacity = room(l) - o;
        if (capacity <= 0) continue;
        // Moving share a off h lowers it by a*v; the owner must keep at least as much as a part.
        const need = -room(h);
        const share = Math.min(capacity / v, need / v, ownerShare / 2);
        if (share <= 0) continue;
        list.push({ gpu: l, share });
        ownerShare -= share;
        sums[h] -= share * v;
        sums[l] += share * v + o;
        held[l] += 1;
      }
      if (list.length === 0) {
        sums[h] -= o + v - problem.costs[u];
        continue;
      }
      parts.set(u, [{ gpu: h, share: ownerShare }, ...list]);
    }
    if (room(h) < -1e-12 * level * speeds[h]) return null;
  }
  return { unit2gpu: [...unit2gpu], parts };
}

/**
 * Cascading pour at `level`: the GPU furthest above the level sheds, through the unit that can
 * shed the most (a new split, or one more part of a unit it already split), as much as it must
 * onto the GPU with the most room, which may go above the level and shed in turn; until no GPU is
 * above the level, or the one furthest above has nothing left to shed.
 */
function cascade(
  problem: LayerProblem,
  splits: LayerSplits,
  unit2gpu: readonly number[],
  level: number,
  even: boolean,
): SharePlan {
  const gpus = problem.speeds.length;
  const speeds = problem.speeds;
  const { sums, held, limitHeld, parts } = startShares(problem, unit2gpu);
  const excess = (g: number) => sums[g] - level * speeds[g];
  const tolerance = (g: number) => 1e-12 * level * speeds[g];
  for (let step = 0; step < 4 * (splits.maxSplitHeads * splits.maxPartsPerHead + gpus); step++) {
    let h = 0;
    for (let g = 1; g < gpus; g++) if (excess(g) / speeds[g] > excess(h) / speeds[h]) h = g;
    if (excess(h) <= tolerance(h)) break;
    let best: { u: number; cap: number } | null = null;
    unit2gpu.forEach((g, u) => {
      if (g !== h || (problem.unit2pin?.[u] ?? -1) >= 0 || splits.units[u].variable <= 0) return;
      const list = parts.get(u);
      if (list ? list.length >= splits.maxPartsPerHead : parts.size >= splits.maxSplitHeads) return;
      // The owner keeps at least as much as any part, the new one included.
      const owner = list ? list[0].share : 1;
      const largestOther = list ? Math.max(...list.slice(1).map((p) => p.share)) : 0;
      const cap = Math.min(owner / 2, owner - largestOther) * splits.units[u].variable;
      if (cap > 0 && (!best || cap > best.cap)) best = { u, cap };
    });
    if (!best) break;
    const { u, cap } = best as { u: number; cap: number };
    const unit = splits.units[u];
    let list = parts.get(u);
    if (!list) {
      list = [{ gpu: h, share: 1 }];
      parts.set(u, list);
      sums[h] += unit.partOverhead + unit.variable - problem.costs[u];
    }
    const taken = new Set(list.map((p) => p.gpu));
    let l = -1;
    for (let g = 0; g < gpus; g++) {
      if (taken.has(g) || held[g] >= limitHeld) continue;
      if (l < 0 || excess(g) / speeds[g] < excess(l) / speeds[l]) l = g;
    }
    if (l < 0) break;
    // An excess beyond one unit's reach leaves through several units: even amounts make even
    // subtrees downstream, which the share LP (polish.ts) can then balance exactly.
    const need = Math.max(0, excess(h));
    const amount = even ? Math.min(cap, need / Math.ceil(need / cap - 1e-12)) : Math.min(cap, need);
    list[0].share -= amount / unit.variable;
    list.push({ gpu: l, share: amount / unit.variable });
    sums[h] -= amount;
    sums[l] += amount + unit.partOverhead;
    held[l] += 1;
  }
  return { unit2gpu: [...unit2gpu], parts };
}
