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

/**
 * [gpus] cost summed on each GPU (not divided by speed) of a share plan: its whole units, its
 * parts, and a copy's group cost for every KV group it holds (kv/groups.ts).
 */
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
  return addCopyCosts(problem, sums, shareGroups(problem, splits, plan));
}

/** [gpus] the KV groups each GPU of a share plan holds: of its whole units and of the parts it runs. */
export function shareGroups(problem: LayerProblem, splits: LayerSplits, plan: SharePlan): Set<number>[] {
  const held = problem.speeds.map(() => new Set<number>());
  plan.unit2gpu.forEach((g, u) => {
    const group = splits.units[u].kvGroup;
    const parts = plan.parts.get(u);
    if (!parts) held[g].add(group);
    else for (const part of parts) held[part.gpu].add(group);
  });
  return held;
}

/** [gpus] the KV groups each GPU holds with owners and row parts: of its unsplit units and of its parts. */
export function partGroups(
  problem: LayerProblem,
  splits: LayerSplits,
  unit2gpu: readonly number[],
  parts: readonly SplitPart[],
): Set<number>[] {
  const held = problem.speeds.map(() => new Set<number>());
  const split = new Set(parts.map((p) => p.unit));
  unit2gpu.forEach((g, u) => {
    if (!split.has(u)) held[g].add(splits.units[u].kvGroup);
  });
  for (const part of parts) held[part.gpu].add(splits.units[part.unit].kvGroup);
  return held;
}

/**
 * Most KV heads a split answer may store: the layer's cap on shared groups, or (units that are
 * their own groups) the splits' own cap; Infinity without one.
 */
export function splitKvCap(problem: LayerProblem & { splits: LayerSplits }): number {
  if (problem.unit2group) return problem.maxStoredGroups ?? Infinity;
  return problem.splits.maxStoredKvHeads ?? Infinity;
}

/**
 * Whether some split answer can meet the KV-cache cap: every KV group is stored at least once and
 * a split unit's group on at least two GPUs, so a split stores at least groups + 1 KV heads.
 */
export function splitFitsCap(problem: LayerProblem & { splits: LayerSplits }): boolean {
  const groups = new Set(problem.splits.units.map((unit) => unit.kvGroup)).size;
  return splitKvCap(problem) >= groups + 1;
}

/** Whether the groups held stay within the KV-cache cap (always, without one). */
export function withinKvCap(problem: LayerProblem & { splits: LayerSplits }, held: readonly Set<number>[]): boolean {
  return held.reduce((s, set) => s + set.size, 0) <= splitKvCap(problem);
}

/** sums plus, on each GPU, the group cost of every group it holds (group costs need unit2group). */
function addCopyCosts(problem: LayerProblem, sums: number[], held: readonly Set<number>[]): number[] {
  const groupCosts = problem.groupCosts;
  if (!groupCosts || !problem.unit2group) return sums;
  return sums.map((s, g) => {
    let total = s;
    for (const k of held[g]) total += groupCosts[k];
    return total;
  });
}

/** Makespan of a share plan. */
export function shareMakespan(problem: LayerProblem, splits: LayerSplits, plan: SharePlan): number {
  const sums = shareSums(problem, splits, plan);
  return Math.max(...sums.map((s, g) => s / problem.speeds[g]));
}

/**
 * Turns shares into integer rows. The owner's part comes first: the earliest rows are the
 * cheapest (row r attends min(r, b) keys), so the owner's part, the largest by cost, is also the
 * largest by rows. Each boundary is the row whose cumulative cost is nearest the cumulative share;
 * if rounding leaves another part costlier than the owner's, the owner's part grows by a row at a
 * time until it is not. A part left with no rows is dropped (a unit left with one part is whole).
 * @returns the parts by unit, rows ascending, and [units] owners
 */
export function roundToRows(splits: LayerSplits, plan: SharePlan): { parts: SplitPart[]; unit2gpu: number[] } {
  const parts: SplitPart[] = [];
  for (const [u, shares] of [...plan.parts].sort((a, b) => a[0] - b[0])) {
    const owner = plan.unit2gpu[u];
    const others = shares.filter((p) => p.gpu !== owner).sort((a, b) => a.gpu - b.gpu);
    const order = [...shares.filter((p) => p.gpu === owner), ...others];
    const unit = splits.units[u];
    const n = splits.rows;
    const cuts = [0];
    let cumulative = 0;
    for (let i = 0; i + 1 < order.length; i++) {
      cumulative += order[i].share * unit.variable;
      cuts.push(Math.max(cuts[i], nearestRow(unit, n, cumulative)));
    }
    cuts.push(n);
    const part = (gpu: number, start: number, end: number): SplitPart => ({
      unit: u,
      gpu,
      rows: [start, end],
      cost: partCost(unit, n, start, end),
    });
    const ranged = () => order.map((p, i) => part(p.gpu, cuts[i], cuts[i + 1])).filter((p) => p.rows[1] > p.rows[0]);
    const ownerCost = (list: SplitPart[]) => list.find((p) => p.gpu === owner)?.cost ?? 0;
    let ranges = ranged();
    while (cuts[1] < n && ranges.some((p) => p.gpu !== owner && p.cost > ownerCost(ranges))) {
      cuts[1] += 1;
      for (let i = 2; i < cuts.length; i++) cuts[i] = Math.max(cuts[i], cuts[1]);
      ranges = ranged();
    }
    if (ranges.length >= 2) parts.push(...ranges);
  }
  return { parts, unit2gpu: [...plan.unit2gpu] };
}

/** The row r (0 <= r < rows) whose cost of rows [0, r) is nearest `target`. */
function nearestRow(unit: SplitUnit, rows: number, target: number): number {
  const within = lastRowWithin(unit, rows, target);
  if (within + 1 >= rows) return within;
  const above = unitRowCost(unit, rows, 0, within + 1) - target;
  return above < target - unitRowCost(unit, rows, 0, within) ? within + 1 : within;
}

/** The largest r in [0, rows) with unitRowCost(0, r) <= budget (binary search: costs grow with rows). */
function lastRowWithin(unit: SplitUnit, rows: number, budget: number): number {
  // Shares come from floating-point sums: a row whose cost meets the budget to 1e-12 fits.
  const limit = budget * (1 + 1e-12);
  let lo = 0;
  let hi = rows - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (unitRowCost(unit, rows, 0, mid) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** [gpus] load of each GPU (cost / speed) for owners and row parts, copies' group costs included. */
export function partLoads(
  problem: LayerProblem & { splits: LayerSplits },
  unit2gpu: readonly number[],
  parts: readonly SplitPart[],
): number[] {
  const sums = new Array<number>(problem.speeds.length).fill(0);
  const split = new Set(parts.map((p) => p.unit));
  unit2gpu.forEach((g, u) => {
    if (!split.has(u)) sums[g] += problem.costs[u];
  });
  for (const part of parts) sums[part.gpu] += part.cost;
  const held = partGroups(problem, problem.splits, unit2gpu, parts);
  return addCopyCosts(problem, sums, held).map((s, g) => s / problem.speeds[g]);
}

/**
 * First broken rule of a split answer, or null: owners in range and within the units-per-GPU rule
 * (and, under a maximum, the distinct units a GPU holds any part of), pins kept whole on their GPU,
 * at most maxSplitHeads split units, each with 2..maxPartsPerHead parts on distinct GPUs whose
 * rows cover [0, rows) exactly once, the owner's part the largest by cost and by rows.
 */
export function splitViolation(
  problem: LayerProblem,
  splits: LayerSplits,
  unit2gpu: readonly number[],
  parts: readonly SplitPart[],
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
    const rowsOf = (p: SplitPart) => p.rows[1] - p.rows[0];
    if (list.some((p) => rowsOf(p) > rowsOf(ownerPart))) return `unit ${u}: a part has more rows than the owner's`;
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
  const stored = partGroups(problem, splits, unit2gpu, parts).reduce((s, set) => s + set.size, 0);
  const cap = splitKvCap({ ...problem, splits });
  if (stored > cap) return `the GPUs store ${stored} KV heads, more than the cap of ${cap}`;
  return null;
}
