import { type AggregatedLayer, aggregateLayer, type UnitRange, unitRange } from '../aggregate.ts';
import { suffixSums } from '../suffix.ts';
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
  const search = prepare(problem, spec, target, fewerThan, { deadline, now });
  let forced = 0;
  problem.unit2pin?.forEach((pin, u) => {
    if (pin >= 0 && pin !== spec.previous[u]) forced += 1;
  });
  visitGpu(search, 0, forced);
  if (!search.bestCounts) return { unit2gpu: null, proved: !search.timedOut };
  return { unit2gpu: placementOf(problem, spec, search.classes, search.bestCounts), proved: !search.timedOut };
}

/** The search's data and state: classes, where their units run now, room and counts left (by GPU), the best found. */
interface MoveSearch extends UnitRange {
  readonly problem: LayerProblem;
  readonly classes: AggregatedLayer['classes'];
  readonly pinnedGroups: AggregatedLayer['pinnedGroups'];
  /** home[k][g]: units of class k that run on GPU g now; homeFrom[k][g]: on GPUs g.. now. */
  readonly home: readonly number[][];
  readonly homeFrom: readonly number[][];
  /** [gpus] load room (pins aside) and its suffix sums (room of GPUs g..). */
  readonly room: readonly number[];
  readonly roomFrom: readonly number[];
  readonly counts: number[][];
  readonly rem: number[];
  /** "state key" -> fewest further moves proven necessary from that state. */
  readonly memo: Map<string, number>;
  readonly clock: { readonly deadline: number; readonly now: () => number };
  best: number;
  bestCounts: number[][] | null;
  nodes: number;
  timedOut: boolean;
}

function prepare(
  problem: LayerProblem,
  spec: MigrationSpec,
  target: number,
  fewerThan: number,
  clock: MoveSearch['clock'],
): MoveSearch {
  const gpus = problem.speeds.length;
  const layer = aggregateLayer(problem);
  const home = layer.classes.map((cls) => {
    const row = new Array<number>(gpus).fill(0);
    for (const u of cls.units) if (spec.previous[u] < gpus) row[spec.previous[u]] += 1;
    return row;
  });
  const limit = target * (1 + TARGET_SLACK);
  const room = problem.speeds.map((s, g) => limit * s - layer.pinnedCost[g]);
  return {
    problem,
    classes: layer.classes,
    pinnedGroups: layer.pinnedGroups,
    home,
    homeFrom: home.map((row) => suffixSums(row)),
    room,
    roomFrom: suffixSums(room.map((r) => Math.max(0, r))),
    ...unitRange(problem, layer.pinnedCount),
    counts: Array.from({ length: gpus }, () => new Array<number>(layer.classes.length).fill(0)),
    rem: layer.classes.map((c) => c.units.length),
    memo: new Map(),
    clock,
    best: fewerThan,
    bestCounts: null,
    nodes: 0,
    timedOut: false,
  };
}

/** The arrivals no GPU from g on can avoid for classes k.. (units beyond what those GPUs held). */
function unavoidable(search: MoveSearch, g: number, from = 0): number {
  let n = 0;
  for (let k = from; k < search.classes.length; k++) n += Math.max(0, search.rem[k] - search.homeFrom[k][g]);
  return n;
}

/**
 * Completes the placement from GPU g on with `rem` units left, `spent` moves so far; lowers
 * `best` for every complete placement with fewer moves.
 */
function visitGpu(search: MoveSearch, g: number, spent: number): void {
  const { classes, rem } = search;
  if (search.timedOut) return;
  if (g === search.problem.speeds.length) {
    if (rem.every((r) => r === 0) && spent < search.best) {
      search.best = spent;
      search.bestCounts = search.counts.map((row) => [...row]);
    }
    return;
  }
  const left = rem.reduce((s, r) => s + r, 0);
  let work = 0;
  for (let k = 0; k < classes.length; k++) work += rem[k] * classes[k].cost;
  if (left < search.loFrom[g] || left > search.hiFrom[g] || work > search.roomFrom[g] * (1 + 1e-12)) return;
  const key = `${g}|${rem.join(',')}`;
  const known = search.memo.get(key) ?? unavoidable(search, g);
  if (spent + known >= search.best) return;
  const before = search.best;
  visitClass(search, { g, spent, groups: new Set(search.pinnedGroups[g]) }, 0, 0, 0, 0);
  // Nothing under the budget from here: at least that many further moves are needed.
  if (!search.timedOut && search.best === before) search.memo.set(key, Math.max(known, search.best - spent));
}

/** GPU g's configuration, class k on: `units` and `load` taken, `arrivals` moves they make. */
function visitClass(
  search: MoveSearch,
  at: { readonly g: number; readonly spent: number; readonly groups: Set<number> },
  k: number,
  units: number,
  load: number,
  arrivals: number,
): void {
  const { g, spent, groups } = at;
  const { classes, rem, problem } = search;
  if (search.timedOut) return;
  if (++search.nodes % CLOCK_EVERY === 0 && search.clock.now() > search.clock.deadline) {
    search.timedOut = true;
    return;
  }
  if (k === classes.length) {
    if (units < search.lo[g]) return;
    visitGpu(search, g + 1, spent + arrivals);
    return;
  }
  const cls = classes[k];
  if (spent + arrivals + unavoidable(search, g, k) >= search.best) return;
  const fit = cls.cost > 0 ? Math.floor(((search.room[g] - load) / cls.cost) * (1 + 1e-12)) : Infinity;
  const cap = Math.min(rem[k], search.hi[g] - units, fit);
  const home = search.home[k][g];
  // The last GPU takes what is left. Elsewhere staying first: the configuration closest to the
  // running one, then outward.
  const order =
    g === problem.speeds.length - 1
      ? cap >= rem[k]
        ? [rem[k]]
        : []
      : [...Array(Math.max(0, cap + 1)).keys()].sort((a, b) => Math.abs(a - home) - Math.abs(b - home) || b - a);
  const maxGroups = problem.maxGroupsPerGpu;
  for (const n of order) {
    if (n > 0 && maxGroups !== undefined && cls.group >= 0 && !groups.has(cls.group) && groups.size >= maxGroups)
      continue;
    const added = n > 0 && cls.group >= 0 && !groups.has(cls.group);
    if (added) groups.add(cls.group);
    search.counts[g][k] = n;
    rem[k] -= n;
    visitClass(search, at, k + 1, units + n, load + n * cls.cost, arrivals + Math.max(0, n - home));
    rem[k] += n;
    search.counts[g][k] = 0;
    if (added) groups.delete(cls.group);
    if (search.timedOut) return;
  }
}

/** Per-GPU class counts -> [units] GPU of each unit: units that stay take their own GPU's slots first. */
function placementOf(
  problem: LayerProblem,
  spec: MigrationSpec,
  classes: AggregatedLayer['classes'],
  found: readonly (readonly number[])[],
): number[] {
  const gpus = problem.speeds.length;
  const unit2gpu = problem.costs.map((_, u) => problem.unit2pin?.[u] ?? -1);
  classes.forEach((cls, k) => {
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
  return unit2gpu;
}
