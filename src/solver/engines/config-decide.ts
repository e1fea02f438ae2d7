/**
 * The decision step of the configuration search (config-search.ts): "is there a placement with
 * every GPU load <= T?", by depth-first search over GPUs, each taking a configuration (counts of
 * each class of identical units). KV groups: a configuration pays groupCosts[k] for each group it
 * stores that no pin brings there already, touches at most maxGroupsPerGpu groups, and the copies
 * of all GPUs stay within maxStoredGroups (and a caller's tighter limit).
 */
import { type AggregatedLayer, disaggregate } from '../aggregate.ts';
import type { LayerProblem } from '../types.ts';
import { type Context, createContext } from './config-context.ts';
import type { GpuConfig } from './config-list.ts';
import { findTwins, knownToFail, recordFailure, stateKey } from './config-symmetry.ts';
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
  /**
   * On identical GPUs: [classes] the configurations within the target that take a unit of the
   * class (config-context.ts), listed once by a caller that decides one target several times;
   * null: none listed (too many). Absent: the decision lists them itself.
   */
  readonly listed?: readonly (readonly GpuConfig[])[] | null;
  /** Counts the search's nodes (partial configurations), for benchmarks that want a measure free of load. */
  readonly stats?: { nodes: number };
}

/** A state with no completion at this target with this many copies made. */
export interface Failure {
  readonly target: number;
  readonly stored: number;
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
  if (limits.stats) limits.stats.nodes += ctx.nodes;
  if (ctx.timedOut) return 'timeout';
  if (!ok) return null;
  const byGpu: number[][] = Array.from({ length: problem.speeds.length }, () => []);
  ctx.order.forEach((g, i) => {
    byGpu[g] = ctx.counts[i];
  });
  return disaggregate(problem, layer, byGpu);
}

/**
 * Fills the GPU at position i with `remUnits` units and `remWork` unit work left. Cuts: counts
 * and work the GPUs left cannot take, the heaviest unit left, the copies every group with units
 * left still needs (unless a pin stores it further on), and the memo of failed states.
 */
function level(ctx: Context, i: number, remUnits: number, remWork: number): boolean {
  const { rem, cost, classes } = ctx;
  if (i === ctx.order.length) return remUnits === 0;
  if (remUnits < ctx.loFrom[i] || remUnits > ctx.hiFrom[i]) return false;
  if (!copiesFit(ctx, i, remWork)) return false;
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
  const alike = ctx.breakSymmetry && ctx.alikeFrom[i];
  if (alike) findTwins(ctx, i);
  const gpu: GpuFill = {
    i,
    remUnits,
    remWork,
    first: alike ? heaviest : -1,
    groupUse: new Int32Array(ctx.groupCost.length),
    groupsUsed: 0,
    tied: new Uint8Array(ctx.groupCost.length).fill(1),
  };
  for (const group of ctx.layer.pinnedGroups[ctx.order[i]]) {
    gpu.groupUse[group] = 1;
    gpu.groupsUsed += 1;
  }
  const listed = alike && heaviest >= 0 ? ctx.configsWith?.[heaviest] : undefined;
  const ok = listed ? walkConfigs(ctx, gpu, listed) : configure(ctx, gpu, 0, 0, 0, 0);
  if (!ok && !ctx.timedOut) recordFailure(ctx, key);
  return ok;
}

/**
 * The GPU at position i (identical to the ones after it) takes each listed configuration the
 * units left allow, fullest first (the lists hold those with a unit of the heaviest class left).
 */
function walkConfigs(ctx: Context, gpu: GpuFill, configs: readonly GpuConfig[]): boolean {
  const { i } = gpu;
  const { rem } = ctx;
  const counts = ctx.counts[i];
  for (const config of configs) {
    if (++ctx.nodes % CLOCK_EVERY === 0 && ctx.limits.now() > ctx.limits.deadline) ctx.timedOut = true;
    if (ctx.timedOut) return false;
    if (ctx.stored + config.copies > ctx.storedLimit) continue;
    if (!config.entries.every(([c, n]) => rem[c] >= n)) continue;
    for (const [c, n] of config.entries) {
      rem[c] -= n;
      counts[c] = n;
    }
    ctx.stored += config.copies;
    const ok = level(ctx, i + 1, gpu.remUnits - config.units, gpu.remWork - config.work);
    ctx.stored -= config.copies;
    for (const [c, n] of config.entries) rem[c] += n;
    if (ok) return true;
    for (const [c] of config.entries) counts[c] = 0;
  }
  return false;
}

/** Whether the copies every group with units left still needs fit the copies and the room left. */
function copiesFit(ctx: Context, i: number, remWork: number): boolean {
  let copies = 0;
  let copyWork = 0;
  const mark = ++ctx.mark;
  for (let k = 0; k < ctx.classes; k++) {
    const group = ctx.classGroup[k];
    if (ctx.rem[k] === 0 || group < 0 || ctx.seen[group] === mark || ctx.pinnedFrom[i].has(group)) continue;
    ctx.seen[group] = mark;
    copies += 1;
    copyWork += ctx.groupCost[group];
  }
  return ctx.stored + copies <= ctx.storedLimit && remWork + copyWork <= ctx.capSuffix[i] + ctx.tol;
}

/** What one GPU's configuration has taken so far. */
interface GpuFill {
  readonly i: number;
  readonly remUnits: number;
  readonly remWork: number;
  /** A class this GPU must take a unit of (symmetry between identical GPUs), or -1. */
  readonly first: number;
  /** Units of each group chosen on this GPU (pinned groups count one). */
  readonly groupUse: Int32Array;
  groupsUsed: number;
  /** [groups] whether the group has taken exactly what its twin took, cost by cost, so far. */
  readonly tied: Uint8Array;
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
  const { rem, cost } = ctx;
  // Classes with nothing left change nothing.
  while (k < ctx.classes && rem[k] === 0) k++;
  if (k === ctx.classes) {
    if (count < ctx.lo[i]) return false;
    return level(ctx, i + 1, gpu.remUnits - count, gpu.remWork - units);
  }
  // Units the later classes could still add to this GPU, at most.
  let nextCost = 0;
  for (let j = k + 1; j < ctx.classes; j++)
    if (rem[j] > 0) {
      nextCost = cost[j];
      break;
    }
  const group = ctx.classGroup[k];
  const opens = group >= 0 && gpu.groupUse[group] === 0;
  const copy = opens ? ctx.groupCost[group] : 0;
  const room = !opens || (gpu.groupsUsed < ctx.groupLimit && ctx.stored < ctx.storedLimit);
  const fit = cost[k] > 0 ? Math.floor((ctx.cap[i] - load - copy + ctx.tol) / cost[k]) : rem[k];
  // A twin's group takes no more than the twin did, while they are tied.
  const twin = gpu.first >= 0 ? ctx.twinClass[i][k] : -1;
  const tied = twin >= 0 && gpu.tied[group] === 1;
  const cap = tied ? ctx.counts[i][twin] : Infinity;
  const most = room ? Math.max(0, Math.min(rem[k], ctx.hi[i] - count, fit, cap)) : 0;
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
    if (tied && n < cap) gpu.tied[group] = 0;
    const ok = configure(ctx, gpu, k + 1, count + n, newUnits, newLoad);
    if (tied) gpu.tied[group] = 1;
    if (took) take(ctx, gpu, group, opens, -1);
    rem[k] += n;
    if (ok) return true;
    ctx.counts[i][k] = 0;
  }
  return false;
}

function take(ctx: Context, gpu: GpuFill, group: number, opens: boolean, by: 1 | -1): void {
  gpu.groupUse[group] += by;
  if (!opens) return;
  gpu.groupsUsed += by;
  ctx.stored += by;
}
