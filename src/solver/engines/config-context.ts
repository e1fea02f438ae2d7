/**
 * What a decision of the configuration search reads (config-decide.ts): the classes, the GPUs in
 * the order they are filled, their room under the target, and the limits on KV copies.
 */
import { type AggregatedLayer, type UnitRange, unitRange } from '../aggregate.ts';
import { groupsMatter } from '../kv/groups.ts';
import { type GpuConfig, listGpuConfigs } from './config-list.ts';
import { roundingSlack } from '../layer-result.ts';
import { suffixFold, suffixSums } from '../suffix.ts';
import type { LayerProblem } from '../types.ts';
import type { DecideLimits, Failure } from './config-decide.ts';

/** Everything one decision reads, in the order GPUs are filled (fast GPUs first; its unit range too). */
export interface Context extends UnitRange {
  readonly problem: LayerProblem;
  readonly layer: AggregatedLayer;
  readonly order: readonly number[];
  readonly classes: number;
  readonly cost: readonly number[];
  readonly classGroup: readonly number[];
  /** [groups] cost of a copy; zeros without group costs. */
  readonly groupCost: readonly number[];
  readonly rem: number[];
  readonly counts: number[][];
  /** [positions] load room of each GPU: target x speed less its pinned units and groups. */
  readonly cap: readonly number[];
  readonly capSuffix: readonly number[];
  readonly maxCapSuffix: readonly number[];
  /** [positions] groups pinned on the GPUs from this position on (their units need no new copy there). */
  readonly pinnedFrom: readonly ReadonlySet<number>[];
  readonly groupLimit: number;
  readonly storedLimit: number;
  /** Whether to break the symmetry of identical GPUs (KV searches; the unit search keeps its order). */
  readonly breakSymmetry: boolean;
  /** [positions] whether the GPUs from this position on are identical (speed, counts, no pins). */
  readonly alikeFrom: readonly boolean[];
  /**
   * KV searches: [types][groups of the type][classes of the group] groups alike in every respect
   * (their units' costs, their copy's cost, no pins), which a state may permute; null: none.
   */
  readonly groupTypes: readonly (readonly (readonly number[])[])[] | null;
  /**
   * The same types, each group's classes with their mixed-radix weights ([class, weight] pairs:
   * a group's units left of each class encode into one number below 2^16); null without types or
   * when a group's code would not fit.
   */
  readonly groupCodes: readonly (readonly (readonly [number, number])[][])[] | null;
  /**
   * KV searches on identical GPUs: [classes] every configuration of such a GPU within the target
   * that takes a unit of the class (fullest first); null where not listed (config-list.ts).
   */
  readonly configsWith: readonly (readonly GpuConfig[])[] | null;
  /** [groups] a scratch mark per group, and the mark of the current count. */
  readonly seen: Int32Array;
  mark: number;
  /** The memo of failures with copies limited (the caller's, or this decision's own). */
  readonly failedWith: Map<string, Failure[]>;
  /** Copies made so far (pins included). */
  stored: number;
  readonly tol: number;
  readonly target: number;
  readonly limits: DecideLimits;
  nodes: number;
  timedOut: boolean;
  /** [positions][classes] at the node being filled there: the class of the same cost of the class's group's twin, or -1 (config-symmetry.ts). */
  readonly twinClass: Int32Array[];
}

export function createContext(
  problem: LayerProblem,
  layer: AggregatedLayer,
  target: number,
  limits: DecideLimits,
): Context | null {
  const gpus = problem.speeds.length;
  const groupCosts = problem.groupCosts ?? [];
  const pinnedGroupCost = layer.pinnedGroups.map((list) => list.reduce((s, k) => s + (groupCosts[k] ?? 0), 0));
  const pinnedLoad = (g: number) => layer.pinnedCost[g] + pinnedGroupCost[g];
  // Fast GPUs first: their configurations are the most constrained by the target.
  const order = Array.from({ length: gpus }, (_, g) => g).sort(
    (a, b) => problem.speeds[b] - problem.speeds[a] || pinnedLoad(a) - pinnedLoad(b) || a - b,
  );
  const cap = order.map((g) => target * problem.speeds[g] - pinnedLoad(g));
  const totalWork = layer.classes.reduce((s, c) => s + c.cost * c.units.length, 0);
  const tol = roundingTolerance(problem, totalWork, cap);
  if (cap.some((c) => c < -tol)) return null;
  const units = unitRange(
    problem,
    order.map((g) => layer.pinnedCount[g]),
  );
  const pinnedFrom: Set<number>[] = order.map(() => new Set<number>());
  for (let i = gpus - 1; i >= 0; i--) {
    for (const k of i + 1 < gpus ? pinnedFrom[i + 1] : []) pinnedFrom[i].add(k);
    for (const k of layer.pinnedGroups[order[i]]) pinnedFrom[i].add(k);
  }
  const groups = layer.classes.reduce((m, c) => Math.max(m, c.group + 1), groupCosts.length);
  const types = groupsMatter(problem) ? groupTypes(layer, groupCosts) : null;
  return {
    problem,
    layer,
    order,
    classes: layer.classes.length,
    cost: layer.classes.map((c) => c.cost),
    classGroup: layer.classes.map((c) => c.group),
    groupCost: Array.from({ length: groups }, (_, k) => groupCosts[k] ?? 0),
    rem: layer.classes.map((c) => c.units.length),
    counts: Array.from({ length: gpus }, () => new Array<number>(layer.classes.length).fill(0)),
    ...units,
    cap,
    capSuffix: suffixSums(cap),
    maxCapSuffix: suffixFold(cap, Math.max, -Infinity),
    pinnedFrom,
    groupLimit: problem.maxGroupsPerGpu ?? Infinity,
    breakSymmetry: groupsMatter(problem),
    alikeFrom: alikeFrom(problem, layer, order),
    groupTypes: types,
    groupCodes: types ? groupCodes(layer, types) : null,
    configsWith: listedFor(problem, layer, order, limits, { cap, ...units, tol }, types !== null),
    seen: new Int32Array(groups),
    mark: 0,
    storedLimit: Math.min(problem.maxStoredGroups ?? Infinity, limits.storedLimit ?? Infinity),
    failedWith: limits.failedWith ?? new Map(),
    stored: layer.pinnedGroups.reduce((s, list) => s + list.length, 0),
    tol,
    target,
    limits,
    nodes: 0,
    timedOut: false,
    twinClass: order.map(() => new Int32Array(layer.classes.length).fill(-1)),
  };
}

/**
 * Rounding slack of a decision (see roundingSlack): every quantity it compares (work left, a GPU's
 * load, the capacity left) is a sum of at most units + classes (<= 2 units) unit costs, 3 per GPU
 * (target x speed and its pinned load) and 2 per group (a copy's cost, in the load and in the
 * work left), and a few more for the comparison itself (8); none larger than the total work plus
 * the total capacity. About 1e-13 of that for real sizes, far below the target steps (REL_EPS / 2
 * of the makespan), so a placement it lets through still beats the incumbent.
 */
function roundingTolerance(problem: LayerProblem, totalWork: number, cap: readonly number[]): number {
  const groupCosts = problem.groupCosts ?? [];
  const magnitude =
    totalWork +
    cap.reduce((s, c) => s + Math.abs(c), 0) +
    problem.costs.reduce((s, c) => s + c, 0) +
    groupCosts.reduce((s, c) => s + c, 0) * problem.speeds.length;
  return roundingSlack(2 * problem.costs.length + 3 * problem.speeds.length + 2 * groupCosts.length + 8, magnitude);
}

/** [types][groups][classes of the group, by cost]: groups with the same unit costs and copy cost and no pins. */
function groupTypes(layer: AggregatedLayer, groupCosts: readonly number[]): number[][][] {
  const pinned = new Set(layer.pinnedGroups.flat());
  const classesOf = new Map<number, number[]>();
  layer.classes.forEach((cls, c) => {
    classesOf.set(cls.group, [...(classesOf.get(cls.group) ?? []), c]);
  });
  const byType = new Map<string, number[][]>();
  for (const [group, classes] of classesOf) {
    const signature = pinned.has(group)
      ? `pinned ${group}`
      : `${groupCosts[group] ?? 0}:${classes.map((c) => `${layer.classes[c].cost}x${layer.classes[c].units.length}`).join(',')}`;
    byType.set(signature, [...(byType.get(signature) ?? []), classes]);
  }
  return [...byType.values()];
}

/** [types][groups][classes] (class, mixed-radix weight) pairs; null when a group's codes reach 2^16. */
function groupCodes(layer: AggregatedLayer, types: readonly (readonly (readonly number[])[])[]) {
  let fits = true;
  const codes = types.map((type) =>
    type.map((classes) => {
      let radix = 1;
      const weights = classes.map((c): [number, number] => {
        const weight = radix;
        radix *= layer.classes[c].units.length + 1;
        return [c, weight];
      });
      if (radix > 0xffff) fits = false;
      return weights;
    }),
  );
  return fits ? codes : null;
}

/** Most configurations the search lists for its identical GPUs; beyond it, it builds them as it goes. */
const MOST_LISTED = 15_000;

/**
 * [classes] the configurations of the identical GPUs filled last (no pins, one speed) that take a
 * unit of each class, or null when there are none or too many.
 */
function configsWith(
  problem: LayerProblem,
  layer: AggregatedLayer,
  order: readonly number[],
  at: { cap: readonly number[]; lo: readonly number[]; hi: readonly number[]; tol: number },
): GpuConfig[][] | null {
  const last = order.length - 1;
  if (layer.pinnedCount[order[last]] > 0) return null;
  const room = { room: at.cap[last] + at.tol, minUnits: at.lo[last], maxUnits: at.hi[last] };
  const all = listGpuConfigs(problem, layer, {
    ...room,
    maxGroups: problem.maxGroupsPerGpu ?? Infinity,
    most: MOST_LISTED,
  });
  return all ? configsByClass(layer, all) : null;
}

/** The caller's lists, else this decision's own (KV searches only). */
function listedFor(
  problem: LayerProblem,
  layer: AggregatedLayer,
  order: readonly number[],
  limits: DecideLimits,
  at: { cap: readonly number[]; lo: readonly number[]; hi: readonly number[]; tol: number },
  kv: boolean,
): readonly (readonly GpuConfig[])[] | null {
  if (!kv) return null;
  return limits.listed !== undefined ? limits.listed : configsWith(problem, layer, order, at);
}

/** [classes] the configurations that take a unit of each class, in the list's order. */
export function configsByClass(layer: AggregatedLayer, configs: readonly GpuConfig[]): GpuConfig[][] {
  const byClass: GpuConfig[][] = layer.classes.map(() => []);
  for (const config of configs) for (const [c] of config.entries) byClass[c].push(config);
  return byClass;
}

/** [positions] whether every GPU from this position on has the speed and pinned state of the last one. */
function alikeFrom(problem: LayerProblem, layer: AggregatedLayer, order: readonly number[]): boolean[] {
  const out = new Array<boolean>(order.length).fill(false);
  const bare = (g: number) => layer.pinnedCount[g] === 0;
  let alike = true;
  for (let i = order.length - 1; i >= 0; i--) {
    const g = order[i];
    alike = alike && bare(g) && problem.speeds[g] === problem.speeds[order[order.length - 1]];
    out[i] = alike;
  }
  return out;
}
