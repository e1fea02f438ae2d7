/**
 * Every configuration of one GPU (counts of each class of identical units) within a room: the
 * configuration search walks these lists on identical GPUs (config-decide.ts), and the
 * configuration integer program is built on them (kv/config-ip.ts).
 */
import type { AggregatedLayer } from '../aggregate.ts';
import type { LayerProblem } from '../types.ts';

/** One GPU's configuration. */
export interface GpuConfig {
  /** [classes] units of each class. */
  readonly counts: readonly number[];
  /** [class, units] of the classes it takes (counts without the zeros). */
  readonly entries: readonly (readonly [number, number])[];
  /** Units it holds, and their costs (copies aside). */
  readonly units: number;
  readonly work: number;
  /** Its load: units' costs and copies' costs, not divided by speed. */
  readonly load: number;
  /** KV groups it stores (copies). */
  readonly copies: number;
}

/** What one GPU may take: its room (load, in the cost unit), its unit counts, its group limit. */
export interface ConfigRoom {
  /** Most load, rounding slack included (no configuration within the target may be lost to rounding). */
  readonly room: number;
  readonly minUnits: number;
  readonly maxUnits: number;
  readonly maxGroups: number;
  /** Most configurations listed; beyond it the answer is null. */
  readonly most: number;
}

/**
 * Every configuration within `room`, fullest (by load) first: each class from most to none, a
 * group's copy priced when the configuration first takes one of its units. Null beyond `most`.
 */
export function listGpuConfigs(problem: LayerProblem, layer: AggregatedLayer, room: ConfigRoom): GpuConfig[] | null {
  const classes = layer.classes;
  const groupCosts = problem.groupCosts ?? [];
  const counts = new Array<number>(classes.length).fill(0);
  const open = new Set<number>();
  const out: GpuConfig[] = [];
  let overflow = false;
  const visit = (k: number, units: number, work: number, load: number): void => {
    if (overflow) return;
    if (k === classes.length) {
      if (units < room.minUnits) return;
      const entries = counts.flatMap((n, c): [number, number][] => (n > 0 ? [[c, n]] : []));
      out.push({ counts: [...counts], entries, units, work, load, copies: open.size });
      if (out.length > room.most) overflow = true;
      return;
    }
    const cls = classes[k];
    const group = cls.group;
    const stored = group < 0 || open.has(group);
    // A group not stored yet needs a slot under the per-GPU limit, and costs its copy.
    const most = stored || open.size < room.maxGroups ? cls.units.length : 0;
    for (let n = 0; n <= most && units + n <= room.maxUnits; n++) {
      const opens = n > 0 && !stored;
      const next = load + n * cls.cost + (opens ? (groupCosts[group] ?? 0) : 0);
      if (next > room.room) break;
      if (opens) open.add(group);
      counts[k] = n;
      visit(k + 1, units + n, work + n * cls.cost, next);
      counts[k] = 0;
      if (opens) open.delete(group);
    }
  };
  visit(0, 0, 0, 0);
  if (overflow) return null;
  return out.sort((a, b) => b.load - a.load);
}
