import { suffixSums } from './suffix.ts';
import type { LayerProblem } from './types.ts';

/** Units that are interchangeable: same cost and (with a KV-group limit) same KV group. */
export interface UnitClass {
  readonly cost: number;
  /** KV group of every unit in the class; -1 without a KV-group limit. */
  readonly group: number;
  /** Free (unpinned) unit ids of the class, ascending. */
  readonly units: readonly number[];
}

/** A layer seen as counts of interchangeable units plus what pins already put on each GPU. */
export interface AggregatedLayer {
  /** Classes sorted by cost descending, then group, so heavy units are decided first. */
  readonly classes: readonly UnitClass[];
  /** [gpus] sum of pinned costs on each GPU. */
  readonly pinnedCost: readonly number[];
  /** [gpus] number of pinned units on each GPU. */
  readonly pinnedCount: readonly number[];
  /** [gpus] KV groups pinned units already bring to each GPU. */
  readonly pinnedGroups: readonly (readonly number[])[];
}

/** Groups a layer's free units into classes of identical cost (and KV group). */
export function aggregateLayer(problem: LayerProblem): AggregatedLayer {
  const gpus = problem.speeds.length;
  const pinnedCost = new Array<number>(gpus).fill(0);
  const pinnedCount = new Array<number>(gpus).fill(0);
  const pinnedGroups = Array.from({ length: gpus }, () => new Set<number>());
  const byKey = new Map<string, { cost: number; group: number; units: number[] }>();
  problem.costs.forEach((cost, u) => {
    const group = problem.unit2group?.[u] ?? -1;
    const pin = problem.unit2pin?.[u] ?? -1;
    if (pin >= 0) {
      pinnedCost[pin] += cost;
      pinnedCount[pin] += 1;
      if (group >= 0) pinnedGroups[pin].add(group);
      return;
    }
    const key = `${cost}|${group}`;
    let cls = byKey.get(key);
    if (!cls) {
      cls = { cost, group, units: [] };
      byKey.set(key, cls);
    }
    cls.units.push(u);
  });
  const classes = [...byKey.values()].sort((a, b) => b.cost - a.cost || a.group - b.group);
  return { classes, pinnedCost, pinnedCount, pinnedGroups: pinnedGroups.map((s) => [...s].sort((a, b) => a - b)) };
}

/**
 * [positions] how many free units each GPU may take: the problem's least and most units per GPU
 * less the units pinned there, and the same summed over the GPUs from each position on.
 */
export interface UnitRange {
  readonly lo: readonly number[];
  readonly hi: readonly number[];
  /** [positions + 1] lo[i] + ... + lo[n - 1]; likewise hiFrom. */
  readonly loFrom: readonly number[];
  readonly hiFrom: readonly number[];
}

/** @param pinnedCount [positions] units pinned on the GPU at each position (AggregatedLayer.pinnedCount, in any order) */
export function unitRange(problem: LayerProblem, pinnedCount: readonly number[]): UnitRange {
  const lo = pinnedCount.map((c) => Math.max(0, problem.minUnitsPerGpu - c));
  const hi = pinnedCount.map((c) => problem.maxUnitsPerGpu - c);
  return { lo, hi, loFrom: suffixSums(lo), hiFrom: suffixSums(hi) };
}

/**
 * Turns per-GPU class counts back into unit ids: the units of each class go to GPUs in GPU
 * order, lowest unit id first, so equal inputs always give equal placements.
 * @param counts [gpus][classes] units of each class on each GPU
 * @returns [units] GPU of each unit (pinned units on their pins)
 */
export function disaggregate(
  problem: LayerProblem,
  layer: AggregatedLayer,
  counts: readonly (readonly number[])[],
): number[] {
  const unit2gpu = problem.costs.map((_, u) => problem.unit2pin?.[u] ?? -1);
  layer.classes.forEach((cls, k) => {
    let next = 0;
    counts.forEach((row, g) => {
      for (let i = 0; i < row[k]; i++) unit2gpu[cls.units[next++]] = g;
    });
  });
  return unit2gpu;
}
