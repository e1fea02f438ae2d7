/**
 * What parts cost, at two levels: a share of a unit's variable cost (what the optimisation works
 * with: linear) and integer rows (what the plan answers with). A part's share is the share of its
 * rows' work, so any shares can be turned into contiguous row ranges, up to one row per boundary.
 */
import { headRowWork } from '../../cost/row-range.ts';
import type { LayerProblem } from '../types.ts';
import type { LayerSplits, SharePlan, SplitPart, SplitUnit } from './types.ts';

/** Variable cost of the rows [start, end) of a unit (without the part overhead). */
export function unitRowCost(unit: SplitUnit, rows: number, start: number, end: number): number {
  let cost = 0;
  for (const head of unit.heads) {
    if (head.variable <= 0) continue;
    const total = headRowWork(head.budget, rows, 0, rows);
    if (total > 0) cost += (head.variable * headRowWork(head.budget, rows, start, end)) / total;
  }
  return cost;
}

/** A part's cost: its rows' variable cost plus the unit's per-part overhead. */
export function partCost(unit: SplitUnit, rows: number, start: number, end: number): number {
  return unitRowCost(unit, rows, start, end) + unit.partOverhead;
}

/** [gpus] cost summed on each GPU (not divided by speed) of a share plan. */
export function shareSums(problem: LayerProblem, splits: LayerSplits, plan: SharePlan): number[] {
  const sums = new Array<number>(problem.speeds.length).fill(0);
  plan.unit2gpu.forEach((g, u) => {
    const parts = plan.parts.get(u);
    if (!parts) {
      sums[g] += problem.costs[u];
      return;
    }
    const unit = splits.units[u];
    for (const part of parts) sums[part.gpu] += part.share * unit.variable + unit.partOverhead;
  });
  return sums;
}

/** Makespan of a share plan. */
export function shareMakespan(problem: LayerProblem, splits: LayerSplits, plan: SharePlan): number {
  const sums = shareSums(problem, splits, plan);
  return Math.max(...sums.map((s, g) => s / problem.speeds[g]));
}

/**
 * Turns shares into integer rows. The parts not on the owner come first, each taking the rows
 * whose cost is nearest its share (or, if that would make a part larger than the owner's, the
 * most rows within its share); the owner's part takes the rest. A part left with no rows is
 * dropped (a unit left with one part is whole again).
 * @returns the parts by unit, rows ascending, and [units] owners
 */
export function roundToRows(splits: LayerSplits, plan: SharePlan): { parts: SplitPart[]; unit2gpu: number[] } {
  const parts: SplitPart[] = [];
  for (const [u, shares] of [...plan.parts].sort((a, b) => a[0] - b[0])) {
    const owner = plan.unit2gpu[u];
    const others = shares.filter((p) => p.gpu !== owner).sort((a, b) => a.gpu - b.gpu);
    // Nearest rows first; if that leaves the owner a row short of being the largest, rows within.
    const nearest = rowRanges(splits, u, owner, others, true);
    const ownerCost = nearest.at(-1)?.cost ?? 0;
    const ranges = nearest.every((p) => p.cost <= ownerCost) ? nearest : rowRanges(splits, u, owner, others, false);
    parts.push(...ranges);
  }
  return { parts, unit2gpu: [...plan.unit2gpu] };
}

/** The parts of unit u, the owner's last; none when no other part keeps a row. */
function rowRanges(
  splits: LayerSplits, u: number, owner: number, others: readonly { gpu: number; share: number }[], nearest: boolean,
): SplitPart[] {
  const unit = splits.units[u];
  const n = splits.rows;
  const ranges: { gpu: number; start: number; end: number }[] = [];
  let start = 0;
  for (const { gpu, share } of others) {
    const target = share * unit.variable;
    let end = lastRowWithin(unit, n, start, target);
    const closer = () => unitRowCost(unit, n, start, end + 1) - target < target - unitRowCost(unit, n, start, end);
    if (nearest && end + 1 < n && closer()) end += 1;
    if (end > start) ranges.push({ gpu, start, end });
    start = end;
  }
  if (ranges.length === 0) return [];
  ranges.push({ gpu: owner, start, end: n });
  return ranges.map((r) => ({ unit: u, gpu: r.gpu, rows: [r.start, r.end], cost: partCost(unit, n, r.start, r.end) }));
}

/** The largest end in [start, rows) with unitRowCost(start, end) <= budget (binary search: costs grow with rows). */
function lastRowWithin(unit: SplitUnit, rows: number, start: number, budget: number): number {
  // Shares come from floating-point sums: a row whose cost meets the budget to 1e-12 fits.
  const limit = budget * (1 + 1e-12);
  let lo = start;
  let hi = rows - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (unitRowCost(unit, rows, start, mid) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** [gpus] load of each GPU (cost / speed) for owners and row parts. */
export function partLoads(problem: LayerProblem, unit2gpu: readonly number[], parts: readonly SplitPart[]): number[] {
  const sums = new Array<number>(problem.speeds.length).fill(0);
  const split = new Set(parts.map((p) => p.unit));
  unit2gpu.forEach((g, u) => { if (!split.has(u)) sums[g] += problem.costs[u]; });
  for (const part of parts) sums[part.gpu] += part.cost;
  return sums.map((s, g) => s / problem.speeds[g]);
}

/**
 * First broken rule of a split answer, or null: owners in range and within the units-per-GPU rule
 * (and, under a maximum, the distinct units a GPU holds any part of), pins kept whole on their GPU,
 * at most maxSplitHeads split units, each with 2..maxPartsPerHead parts on distinct GPUs whose
 * rows cover [0, rows) exactly once, the owner's part the largest.
 */
export function splitViolation(
  problem: LayerProblem, splits: LayerSplits, unit2gpu: readonly number[], parts: readonly SplitPart[],
): string | null {
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  if (unit2gpu.length !== units) return `expected ${units} owners, got ${unit2gpu.length}`;
  const owned = new Array<number>(gpus).fill(0);
  const held = Array.from({ length: gpus }, () => new Set<number>());
  for (let u = 0; u < units; u++) {
    const g = unit2gpu[u];
    if (!(Number.isInteger(g) && g >= 0 && g < gpus)) return `unit ${u} owned by GPU ${g}, which does not exist`;
    owned[g] += 1;
    held[g].add(u);
  }
  const byUnit = new Map<number, SplitPart[]>();
  for (const part of parts) byUnit.set(part.unit, [...(byUnit.get(part.unit) ?? []), part]);
  if (byUnit.size > splits.maxSplitHeads) return `${byUnit.size} units split, more than ${splits.maxSplitHeads}`;
  for (const [u, list] of byUnit) {
    if ((problem.unit2pin?.[u] ?? -1) >= 0) return `pinned unit ${u} is split`;
    if (list.length < 2 || list.length > splits.maxPartsPerHead) {
      return `unit ${u} has ${list.length} parts, not 2..${splits.maxPartsPerHead}`;
    }
    if (new Set(list.map((p) => p.gpu)).size !== list.length) return `unit ${u} has two parts on one GPU`;
    const sorted = [...list].sort((a, b) => a.rows[0] - b.rows[0]);
    let row = 0;
    for (const p of sorted) {
      if (p.rows[0] !== row || !(p.rows[1] > p.rows[0])) {
        return `parts of unit ${u} do not cover its rows once (at row ${row})`;
      }
      row = p.rows[1];
    }
    if (row !== splits.rows) return `parts of unit ${u} end at row ${row}, not ${splits.rows}`;
    const ownerPart = list.find((p) => p.gpu === unit2gpu[u]);
    if (!ownerPart) return `unit ${u} has no part on its owner GPU ${unit2gpu[u]}`;
    if (list.some((p) => p.cost > ownerPart.cost * (1 + 1e-9))) return `unit ${u}: a part costs more than the owner's`;
    for (const p of list) held[p.gpu].add(u);
  }
  for (let g = 0; g < gpus; g++) {
    const { minUnitsPerGpu: lo, maxUnitsPerGpu: hi } = problem;
    if (owned[g] < lo || owned[g] > hi) return `GPU ${g} owns ${owned[g]} units, outside ${lo}..${hi}`;
    if (lo < hi && held[g].size > hi) return `GPU ${g} holds parts of ${held[g].size} units, more than ${hi}`;
  }
  for (let u = 0; u < units; u++) {
    const pin = problem.unit2pin?.[u] ?? -1;
    if (pin >= 0 && unit2gpu[u] !== pin) return `unit ${u} is pinned to GPU ${pin} but owned by GPU ${unit2gpu[u]}`;
  }
  return null;
}
