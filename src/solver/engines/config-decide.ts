/**
 * The decision step of the configuration search (config-search.ts): "is there a placement with
 * every GPU load <= T?", by depth-first search over GPUs, each taking a configuration (counts of
 * each class of identical units). KV groups: a configuration pays groupCosts[k] for each group it
 * stores that no pin brings there already, touches at most maxGroupsPerGpu groups, and the copies
 * of all GPUs stay within maxStoredGroups (and a caller's tighter limit).
 */
import { type AggregatedLayer, disaggregate } from '../aggregate.ts';
import { roundingSlack } from '../layer-result.ts';
import { groupsMatter } from '../kv/groups.ts';
import type { LayerProblem } from '../types.ts';
import type { Decision } from './target-search.ts';

/** Nodes between two looks at the clock. */
const CLOCK_EVERY = 2048;

/** A search's clock and the memo it keeps across targets. */
export interface DecideLimits {
  readonly deadline: number;
  readonly now: () => number;
  /** key -> the largest target at which the state was proven to have no completion. */
  readonly failedAt: Map<string, number>;
  /**
   * With copies limited, key -> (target, copies made) pairs at which the state was proven to have
   * no completion; one holds for any lower target with as many copies made or more.
   */
  readonly failedWith?: Map<string, Failure[]>;
  /** Most KV heads stored (below the problem's own cap, for the second objective); absent: the cap. */
  readonly storedLimit?: number;
}

/** A state with no completion at this target with this many copies made. */
export interface Failure {
  readonly target: number;
  readonly stored: number;
}

/** Everything one decision reads, in the order GPUs are filled (fast GPUs first). */
interface Context {
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
  readonly lo: readonly number[];
  readonly hi: readonly number[];
  readonly capSuffix: readonly number[];
  readonly maxCapSuffix: readonly number[];
  readonly loSuffix: readonly number[];
  readonly hiSuffix: readonly number[];
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
  /** The memo of failures with copies limited (the caller's, or this decision's own). */
  readonly failedWith: Map<string, Failure[]>;
  /** Copies made so far (pins included). */
  stored: number;
  readonly tol: number;
  readonly target: number;
  readonly limits: DecideLimits;
  nodes: number;
  timedOut: boolean;
}

/** Is there a placement with every GPU load <= target (and the copies within the limits)? (see Decision) */
export function decideConfigs(
  problem: LayerProblem,
  layer: AggregatedLayer,
  target: number,
  limits: DecideLimits,
): Decision {
  const ctx = createContext(problem, layer, target, limits);
  if (ctx === null) return null;
  const remUnits = ctx.rem.reduce((a, b) => a + b, 0);
  const remWork = layer.classes.reduce((s, c) => s + c.cost * c.units.length, 0);
  const ok = level(ctx, 0, remUnits, remWork);
  if (ctx.timedOut) return 'timeout';
  if (!ok) return null;
  const byGpu: number[][] = Array.from({ length: problem.speeds.length }, () => []);
  ctx.order.forEach((g, i) => {
    byGpu[g] = ctx.counts[i];
  });
  return disaggregate(problem, layer, byGpu);
}

function createContext(
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
  const lo = order.map((g) => Math.max(0, problem.minUnitsPerGpu - layer.pinnedCount[g]));
  const hi = order.map((g) => problem.maxUnitsPerGpu - layer.pinnedCount[g]);
  const pinnedFrom: Set<number>[] = order.map(() => new Set<number>());
  for (let i = gpus - 1; i >= 0; i--) {
    for (const k of i + 1 < gpus ? pinnedFrom[i + 1] : []) pinnedFrom[i].add(k);
    for (const k of layer.pinnedGroups[order[i]]) pinnedFrom[i].add(k);
  }
  const groups = layer.classes.reduce((m, c) => Math.max(m, c.group + 1), groupCosts.length);
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
    cap,
    lo,
    hi,
    capSuffix: suffix(cap, (a, b) => a + b, 0),
    maxCapSuffix: suffix(cap, Math.max, -Infinity),
    loSuffix: suffix(lo, (a, b) => a + b, 0),
    hiSuffix: suffix(hi, (a, b) => a + b, 0),
    pinnedFrom,
    groupLimit: problem.maxGroupsPerGpu ?? Infinity,
    breakSymmetry: groupsMatter(problem),
    alikeFrom: alikeFrom(problem, layer, order),
    groupTypes: groupsMatter(problem) ? groupTypes(layer, groupCosts) : null,
    storedLimit: Math.min(problem.maxStoredGroups ?? Infinity, limits.storedLimit ?? Infinity),
    failedWith: limits.failedWith ?? new Map(),
    stored: layer.pinnedGroups.reduce((s, list) => s + list.length, 0),
    tol,
    target,
    limits,
    nodes: 0,
    timedOut: false,
  };
}

/**
 * Fills the GPU at position i with `remUnits` units and `remWork` unit work left. Cuts: counts
 * and work the GPUs left cannot take, the heaviest unit left, the copies every group with units
 * left still needs (unless a pin stores it further on), and the memo of failed states.
 */
function level(ctx: Context, i: number, remUnits: number, remWork: number): boolean {
  const { rem, cost, classes } = ctx;
  if (i === ctx.order.length) return remUnits === 0;
  if (remUnits < ctx.loSuffix[i] || remUnits > ctx.hiSuffix[i]) return false;
  let copies = 0;
  let copyWork = 0;
  const needed = new Set<number>();
  for (let k = 0; k < classes; k++) {
    const group = ctx.classGroup[k];
    if (rem[k] === 0 || group < 0 || needed.has(group) || ctx.pinnedFrom[i].has(group)) continue;
    needed.add(group);
    copies += 1;
    copyWork += ctx.groupCost[group];
  }
  if (ctx.stored + copies > ctx.storedLimit) return false;
  if (remWork + copyWork > ctx.capSuffix[i] + ctx.tol) return false;
  let heaviest = -1;
  for (let k = 0; k < classes; k++)
    if (rem[k] > 0) {
      heaviest = k;
      break;
    }
  if (heaviest >= 0 && cost[heaviest] > ctx.maxCapSuffix[i] + ctx.tol) return false;
  const key = stateKey(ctx, i);
  if (knownToFail(ctx, key)) return false;
  // Identical GPUs left (KV search only): the one at i may as well hold the heaviest unit left.
  const first = ctx.breakSymmetry && ctx.alikeFrom[i] ? heaviest : -1;
  const gpu = { i, remUnits, remWork, first, groupUse: new Map<number, number>(), groupsUsed: 0 };
  for (const group of ctx.layer.pinnedGroups[ctx.order[i]]) {
    gpu.groupUse.set(group, 1);
    gpu.groupsUsed += 1;
  }
  const ok = configure(ctx, gpu, 0, 0, 0, 0);
  if (!ok && !ctx.timedOut) recordFailure(ctx, key);
  return ok;
}

/** Whether the memo proves the state at `key` (with the copies made so far) has no completion. */
function knownToFail(ctx: Context, key: string): boolean {
  if (!Number.isFinite(ctx.storedLimit)) return (ctx.limits.failedAt.get(key) ?? -Infinity) >= ctx.target;
  return ctx.failedWith.get(key)?.some((f) => f.target >= ctx.target && f.stored <= ctx.stored) ?? false;
}

function recordFailure(ctx: Context, key: string): void {
  if (!Number.isFinite(ctx.storedLimit)) {
    ctx.limits.failedAt.set(key, Math.max(ctx.target, ctx.limits.failedAt.get(key) ?? -Infinity));
    return;
  }
  const kept = (ctx.failedWith.get(key) ?? []).filter((f) => f.target > ctx.target || f.stored < ctx.stored);
  kept.push({ target: ctx.target, stored: ctx.stored });
  ctx.failedWith.set(key, kept);
}

/** What one GPU's configuration has taken so far. */
interface GpuFill {
  readonly i: number;
  readonly remUnits: number;
  readonly remWork: number;
  /** A class this GPU must take a unit of (symmetry between identical GPUs), or -1. */
  readonly first: number;
  /** Units of each group chosen on this GPU (pinned groups count one). */
  readonly groupUse: Map<number, number>;
  groupsUsed: number;
}

/**
 * Chooses how many units of class k (and on) the GPU takes, most first, `count` units and `units`
 * unit work (`load` with its new copies) taken so far; then the next GPU.
 */
function configure(ctx: Context, gpu: GpuFill, k: number, count: number, units: number, load: number): boolean {
  const { i } = gpu;
  // Count every partial configuration: with many classes one GPU alone has a huge number.
  if (++ctx.nodes % CLOCK_EVERY === 0 && ctx.limits.now() > ctx.limits.deadline) ctx.timedOut = true;
  if (ctx.timedOut) return false;
  if (k === ctx.classes) {
    if (count < ctx.lo[i]) return false;
    return level(ctx, i + 1, gpu.remUnits - count, gpu.remWork - units);
  }
  const { rem, cost } = ctx;
  // Units the later classes could still add to this GPU, at most.
  let nextCost = 0;
  for (let j = k + 1; j < ctx.classes; j++)
    if (rem[j] > 0) {
      nextCost = cost[j];
      break;
    }
  const group = ctx.classGroup[k];
  const opens = group >= 0 && !gpu.groupUse.get(group);
  const copy = opens ? ctx.groupCost[group] : 0;
  const room = !opens || (gpu.groupsUsed < ctx.groupLimit && ctx.stored < ctx.storedLimit);
  const fit = cost[k] > 0 ? Math.floor((ctx.cap[i] - load - copy + ctx.tol) / cost[k]) : rem[k];
  const most = room ? Math.max(0, Math.min(rem[k], ctx.hi[i] - count, fit)) : 0;
  const least = k === gpu.first ? 1 : 0;
  for (let n = most; n >= least; n--) {
    const newUnits = units + n * cost[k];
    const newLoad = load + n * cost[k] + (n > 0 ? copy : 0);
    const addMax = Math.max(0, Math.min(ctx.cap[i] - newLoad, (ctx.hi[i] - count - n) * nextCost));
    // Taking fewer of class k only leaves more work for the GPUs after this one.
    if (gpu.remWork - newUnits - addMax > ctx.capSuffix[i + 1] + ctx.tol) break;
    ctx.counts[i][k] = n;
    rem[k] -= n;
    const took = n > 0 && group >= 0;
    if (took) take(ctx, gpu, group, opens, 1);
    const ok = configure(ctx, gpu, k + 1, count + n, newUnits, newLoad);
    if (took) take(ctx, gpu, group, opens, -1);
    rem[k] += n;
    if (ok) return true;
    ctx.counts[i][k] = 0;
  }
  return false;
}

function take(ctx: Context, gpu: GpuFill, group: number, opens: boolean, by: 1 | -1): void {
  gpu.groupUse.set(group, (gpu.groupUse.get(group) ?? 0) + by);
  if (!opens) return;
  gpu.groupsUsed += by;
  ctx.stored += by;
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

/**
 * The memo key of a state: the position and the units left of each class. Where groups are alike
 * (groupTypes), their units left are sorted within each type, so states that differ only by a
 * permutation of alike groups share one key: what one cannot complete, the other cannot either.
 */
function stateKey(ctx: Context, i: number): string {
  if (!ctx.groupTypes) return `${i}:${ctx.rem.join(',')}`;
  const parts = ctx.groupTypes.map((type) =>
    type
      .map((classes) => classes.map((c) => ctx.rem[c]).join(','))
      .sort()
      .join('/'),
  );
  return `${i}:${parts.join(';')}`;
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

/** [n + 1] suffix folds: out[i] = xs[i] op xs[i + 1] op ... op init. */
function suffix(xs: readonly number[], op: (a: number, b: number) => number, init: number): number[] {
  const out = new Array<number>(xs.length + 1).fill(init);
  for (let i = xs.length - 1; i >= 0; i--) out[i] = op(xs[i], out[i + 1]);
  return out;
}
