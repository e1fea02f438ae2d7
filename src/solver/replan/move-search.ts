import { aggregateLayer } from '../aggregate.ts';
import type { LayerProblem } from '../types.ts';
import { TARGET_SLACK } from './greedy-replan.ts';
import type { MigrationSpec } from './types.ts';

/** Nodes between two looks at the clock. */
const CLOCK_EVERY = 4096;

export interface MoveSearchOutcome {
  /** [units] a placement with fewer moves than asked for, or null when none was found. */
  readonly unit2gpu: number[] | null;
  /** true when the search finished: the placement (or, without one, the bound asked for) is minimal. */
  readonly proved: boolean;
}

/**
 * Exact search for the fewest moves (every move costing the same) with every load <= target:
 * the configuration search of the placement engines, extended with move counts. Units are
 * classed by cost and KV group only, as there; a GPU holding n units of a class of which a were
 * on it before receives max(0, n - a) of them, and the moves of a placement are the sum of
 * what each GPU receives (plus pins away from a unit's GPU). Depth-first over GPUs, trying the
 * configuration closest to the running one first, pruned by the arrivals no later GPU can avoid
 * (units of a class beyond what the GPUs left held), by capacity, and by a memo of the bounds
 * proven for (GPU, units left) states.
 * @param fewerThan only placements with fewer moves count (the incumbent's, or maxMoves + 1)
 */
export function searchFewestMoves(
  problem: LayerProblem,
  spec: MigrationSpec,
  target: number,
  fewerThan: number,
  deadline: number,
  now: () => number,
): MoveSearchOutcome {
  const gpus = problem.speeds.length;
  const layer = aggregateLayer(problem);
  const classes = layer.classes;
  const K = classes.length;
  // home[k][g]: units of class k that run on GPU g now.
  const home = classes.map((cls) => {
    const row = new Array<number>(gpus).fill(0);
    for (const u of cls.units) if (spec.previous[u] < gpus) row[spec.previous[u]] += 1;
    return row;
  });
  // homeFrom[k][g]: units of class k that run on GPUs g.. now.
  const homeFrom = home.map((row) => {
    const suffix = new Array<number>(gpus + 1).fill(0);
    for (let g = gpus - 1; g >= 0; g--) suffix[g] = suffix[g + 1] + row[g];
    return suffix;
  });
  let forced = 0;
  problem.unit2pin?.forEach((pin, u) => {
    if (pin >= 0 && pin !== spec.previous[u]) forced += 1;
  });
  const limit = target * (1 + TARGET_SLACK);
  const room = problem.speeds.map((s, g) => limit * s - layer.pinnedCost[g]);
  const roomFrom = new Array<number>(gpus + 1).fill(0);
  for (let g = gpus - 1; g >= 0; g--) roomFrom[g] = roomFrom[g + 1] + Math.max(0, room[g]);
  const lo = layer.pinnedCount.map((c) => Math.max(0, problem.minUnitsPerGpu - c));
  const hi = layer.pinnedCount.map((c) => problem.maxUnitsPerGpu - c);
  const loFrom = new Array<number>(gpus + 1).fill(0);
  const hiFrom = new Array<number>(gpus + 1).fill(0);
  for (let g = gpus - 1; g >= 0; g--) {
    loFrom[g] = loFrom[g + 1] + lo[g];
    hiFrom[g] = hiFrom[g + 1] + hi[g];
  }
  const maxGroups = problem.maxGroupsPerGpu;

  let best = fewerThan;
  let bestCounts: number[][] | null = null;
  const counts = Array.from({ length: gpus }, () => new Array<number>(K).fill(0));
  const rem = classes.map((c) => c.units.length);
  // memo: "state key" -> fewest further moves proven necessary from that state.
  const memo = new Map<string, number>();
  let nodes = 0;
  let timedOut = false;
  const unavoidable = (g: number) => {
    let n = 0;
    for (let k = 0; k < K; k++) n += Math.max(0, rem[k] - homeFrom[k][g]);
    return n;
  };

  // Completes the placement from GPU g on with `rem` units left, `spent` moves so far; lowers
  // `best` for every complete placement with fewer moves.
  const visitGpu = (g: number, spent: number): void => {
    if (timedOut) return;
    if (g === gpus) {
      if (rem.every((r) => r === 0) && spent < best) {
        best = spent;
        bestCounts = counts.map((row) => [...row]);
      }
      return;
    }
    const left = rem.reduce((s, r) => s + r, 0);
    let work = 0;
    for (let k = 0; k < K; k++) work += rem[k] * classes[k].cost;
    if (left < loFrom[g] || left > hiFrom[g] || work > roomFrom[g] * (1 + 1e-12)) return;
    const key = `${g}|${rem.join(',')}`;
    const known = memo.get(key) ?? unavoidable(g);
    if (spent + known >= best) return;
    const before = best;
    const groups = new Set(layer.pinnedGroups[g]);
    const visitClass = (k: number, units: number, load: number, arrivals: number): void => {
      if (timedOut) return;
      if (++nodes % CLOCK_EVERY === 0 && now() > deadline) {
        timedOut = true;
        return;
      }
      if (k === K) {
        if (units < lo[g]) return;
        visitGpu(g + 1, spent + arrivals);
        return;
      }
      const cls = classes[k];
      // The arrivals no GPU after g can avoid for the classes still open.
      let later = 0;
      for (let j = k; j < K; j++) later += Math.max(0, rem[j] - homeFrom[j][g]);
      if (spent + arrivals + later >= best) return;
      const fit = cls.cost > 0 ? Math.floor(((room[g] - load) / cls.cost) * (1 + 1e-12)) : Infinity;
      const cap = Math.min(rem[k], hi[g] - units, fit);
      // The last GPU takes what is left. Elsewhere staying first: the configuration closest to
      // the running one, then outward.
      const order =
        g === gpus - 1
          ? cap >= rem[k]
            ? [rem[k]]
            : []
          : [...Array(Math.max(0, cap + 1)).keys()].sort(
              (a, b) => Math.abs(a - home[k][g]) - Math.abs(b - home[k][g]) || b - a,
            );
      for (const n of order) {
        if (n > 0 && maxGroups !== undefined && cls.group >= 0 && !groups.has(cls.group) && groups.size >= maxGroups)
          continue;
        const added = n > 0 && cls.group >= 0 && !groups.has(cls.group);
        if (added) groups.add(cls.group);
        counts[g][k] = n;
        rem[k] -= n;
        visitClass(k + 1, units + n, load + n * cls.cost, arrivals + Math.max(0, n - home[k][g]));
        rem[k] += n;
        counts[g][k] = 0;
        if (added) groups.delete(cls.group);
        if (timedOut) return;
      }
    };
    visitClass(0, 0, 0, 0);
    // Nothing under the budget from here: at least that many further moves are needed.
    if (!timedOut && best === before) memo.set(key, Math.max(known, best - spent));
  };
  visitGpu(0, forced);

  if (!bestCounts) return { unit2gpu: null, proved: !timedOut };
  const found: number[][] = bestCounts;
  const unit2gpu = problem.costs.map((_, u) => problem.unit2pin?.[u] ?? -1);
  classes.forEach((cls, k) => {
    // Units that stay take their own GPU's slots; the rest fill the other slots.
    const slots = found.map((row) => row[k]);
    const movers: number[] = [];
    for (const u of cls.units) {
      const g = spec.previous[u];
      if (g < gpus && slots[g] > 0) {
        unit2gpu[u] = g;
        slots[g] -= 1;
      } else {
        movers.push(u);
      }
    }
    slots.forEach((free, g) => {
      for (let i = 0; i < free; i++) unit2gpu[movers.pop()!] = g;
    });
  });
  return { unit2gpu, proved: !timedOut };
}
