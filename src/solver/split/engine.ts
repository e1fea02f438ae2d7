import type { GLPK } from 'glpk.js/node';
import { GLPK_OVERHEAD_MS } from '../engines/ilp.ts';
import { minStoredKvHeads } from '../kv/min-stored.ts';
import { type KvMeta, relativeGap, statusForGap } from '../layer-result.ts';
import type { LayerProblem, LayerResult, LayerStatus } from '../types.ts';
import { splitLowerBound } from './bounds.ts';
import { chainPlan } from './chain.ts';
import { groupLowerBound } from './group-bound.ts';
import { solveSplitMilp } from './milp.ts';
import {
  partGroups,
  partLoads,
  roundToRows,
  shareGroups,
  shareMakespan,
  shareSums,
  splitViolation,
  withinKvCap,
} from './part-cost.ts';
import type { LayerSplits, SharePlan, SplitLayerResult, SplitPart } from './types.ts';
import { polishShares, widerPlans } from './polish.ts';
import { wrapAround } from './wrap-around.ts';

/** Work the chain search may do at one level (steps times classes: tens of milliseconds at most). */
const CHAIN_WORK = 100_000;

export interface SplitSolveOptions {
  readonly timeLimitMs: number;
  readonly gapTolerance: number;
  /** Monotonic clock in milliseconds; injected so tests can control time. */
  readonly now?: () => number;
  /** false: construct only (the requested engine is a heuristic), no GLPK. */
  readonly exact: boolean;
}

/** A split search's running state. */
interface SplitSearch {
  readonly problem: LayerProblem & { splits: LayerSplits };
  readonly splits: LayerSplits;
  readonly whole: LayerResult;
  readonly options: SplitSolveOptions;
  readonly now: () => number;
  readonly start: number;
  readonly deadline: number;
  lower: number;
  /** Level the chain and constructions aim at: the bound without copies (aimed at `lower`, 1-2% worse on the flagship). */
  aim: number;
  best: SharePlan;
  /** Makespan of `best` (Infinity until a plan within the KV-cache cap is kept). */
  upper: number;
  /** Plans found that store more KV heads than the cap (so none was kept). */
  overCap: number;
}

/**
 * Splits a layer's heaviest units by query rows, starting from a whole-unit answer: the split
 * lower bound (split/bounds.ts) and the chain search at that level (split/chain.ts), else the
 * group bound (split/group-bound.ts) and the chain at its level; then, unless the gap is within
 * tolerance already, the wrap-around constructions and the mixed-integer program in GLPK with the
 * best plan so far as its cutoff. Shares are rounded to integer rows and the loads, makespan, gap
 * and status are recomputed from the rows; the bound stays valid because rows are a special case
 * of shares. A GPU holding a part holds the part's KV group: its load pays the group's copy cost
 * and, under a KV-cache cap, a plan is kept only when the groups held stay within it (else the
 * whole-unit answer stands and `splitsDeclined` says why). Never worse than the whole-unit answer
 * (which splits nothing).
 * @param whole the whole-unit answer for the same problem (its placement and its valid bound)
 */
export function solveSplitLayer(
  glpk: GLPK | null,
  problem: LayerProblem & { splits: LayerSplits },
  whole: LayerResult,
  options: SplitSolveOptions,
): SplitLayerResult {
  const now = options.now ?? performance.now.bind(performance);
  const start = now();
  const s: SplitSearch = {
    problem,
    splits: problem.splits,
    whole,
    options,
    now,
    start,
    deadline: start + options.timeLimitMs,
    lower: splitLowerBound(problem, problem.splits, whole.lowerBound),
    aim: splitLowerBound({ ...problem, groupCosts: undefined }, problem.splits, whole.lowerBound),
    best: { unit2gpu: [...whole.unit2gpu], parts: new Map() },
    upper: Infinity,
    overCap: 0,
  };
  chainStep(glpk, s);
  if (!gapOk(s)) constructionStep(glpk, s);
  widenStep(glpk, s);
  let engine = s.best.parts.size > 0 ? 'split-wrap' : whole.engine;
  if (whole.makespan <= s.upper) {
    s.best = { unit2gpu: [...whole.unit2gpu], parts: new Map() };
    s.upper = whole.makespan;
    engine = whole.engine;
  }
  if (milpStep(glpk, s)) engine = 'split-milp';
  return finishSplit(s, engine);
}

function gapOk(s: SplitSearch): boolean {
  return relativeGap(s.upper, s.lower) <= s.options.gapTolerance;
}

/** Keeps `plan` when it stays within the KV-cache cap and beats the best (by a margin, if given). */
function offer(s: SplitSearch, plan: SharePlan, margin = 0): boolean {
  const makespan = shareMakespan(s.problem, s.splits, plan);
  if (!(makespan < s.upper * (1 - margin))) return false;
  if (!withinKvCap(s.problem, shareGroups(s.problem, s.splits, plan))) {
    s.overCap += 1;
    return false;
  }
  s.best = plan;
  s.upper = makespan;
  return true;
}

/**
 * Wrap-around at the bound itself (a quarter of the tolerance left for rounding to rows); with
 * few split heads the groups they join give a stronger bound, worth its time when that fails. The
 * chain stops at its level; the share LP takes its structure as low as it goes.
 */
function chainStep(glpk: GLPK | null, s: SplitSearch): void {
  const chainAt = () => chainPlan(s.problem, s.splits, s.aim * (1 + s.options.gapTolerance / 4), CHAIN_WORK);
  let chained = chainAt();
  if (!chained) {
    const grouped = groupLowerBound(s.problem, s.splits);
    if (grouped > s.aim) {
      s.lower = Math.max(s.lower, grouped);
      s.aim = grouped;
      chained = chainAt();
    }
  }
  if (!chained) return;
  const polished =
    glpk && s.now() < s.deadline ? polishShares(glpk, s.problem, s.splits, chained, s.deadline - s.now()) : chained;
  offer(s, polished);
}

/**
 * The wrap-around constructions, each balanced by the share LP where it can help and while time is
 * left (a pool stops a task that overruns its limit).
 */
function constructionStep(glpk: GLPK | null, s: SplitSearch): void {
  for (const constructed of wrapAround(s.problem, s.splits, s.whole.unit2gpu, s.aim, s.options.gapTolerance)) {
    let plan = constructed;
    const open = relativeGap(shareMakespan(s.problem, s.splits, plan), s.lower) > s.options.gapTolerance;
    if (glpk && open && s.now() < s.deadline)
      plan = polishShares(glpk, s.problem, s.splits, constructed, Math.max(1, s.deadline - s.now()));
    offer(s, plan);
    if (gapOk(s)) return;
  }
}

/**
 * A construction often ends one part short of a structure that balances: add parts while the
 * share LP turns each into a lower makespan.
 */
function widenStep(glpk: GLPK | null, s: SplitSearch): void {
  while (glpk && !gapOk(s) && s.now() < s.deadline) {
    let improved = false;
    for (const wider of widerPlans(s.problem, s.splits, s.best, shareSums(s.problem, s.splits, s.best))) {
      if (s.now() >= s.deadline) break;
      const polished = polishShares(glpk, s.problem, s.splits, wider, Math.max(1, s.deadline - s.now()));
      if (offer(s, polished, 1e-12)) improved = true;
    }
    if (!improved) return;
  }
}

/** GLPK's split model with the best plan as its cutoff, when the gap is open and time is left; true when its plan is kept. */
function milpStep(glpk: GLPK | null, s: SplitSearch): boolean {
  const { problem, options } = s;
  if (!options.exact || !glpk || gapOk(s) || problem.speeds.length <= 1) return false;
  if (s.deadline - s.now() <= 2 * GLPK_OVERHEAD_MS) return false;
  const limits = {
    upper: s.upper,
    lowerBound: s.lower,
    timeLimitMs: s.deadline - s.now(),
    gapTolerance: options.gapTolerance,
  };
  const milp = solveSplitMilp(glpk, problem, s.splits, limits);
  s.lower = Math.max(s.lower, Math.min(milp.lowerBound, s.upper));
  return milp.plan !== null && offer(s, milp.plan);
}

/**
 * Rounds the best plan to rows and builds the answer; the whole-unit answer stands when rounding
 * loses to it or breaks the cap, and says why when plans were found but none within the cap.
 */
function finishSplit(s: SplitSearch, chosen: string): SplitLayerResult {
  const { problem, splits, whole, options } = s;
  let engine = chosen;
  let { parts, unit2gpu } = roundToRows(splits, s.best);
  // Rounding to rows costs at most a row per boundary; if that loses to the whole answer, keep it.
  const rounded = parts.length > 0 && withinKvCap(problem, partGroups(problem, splits, unit2gpu, parts));
  if (parts.length > 0 && (!rounded || Math.max(...partLoads(problem, unit2gpu, parts)) > whole.makespan)) {
    ({ parts, unit2gpu } = { parts: [], unit2gpu: [...whole.unit2gpu] });
    engine = whole.engine;
  }
  let otherwise: LayerStatus = options.exact ? 'time_limit' : 'heuristic';
  if (whole.status === 'greedy_fallback' && engine === whole.engine) otherwise = 'greedy_fallback';
  const violation = splitViolation(problem, splits, unit2gpu, parts);
  if (violation !== null) throw new Error(`split answer of layer ${problem.layer} breaks a rule: ${violation}`);
  const declined =
    parts.length === 0 && s.overCap > 0
      ? `${s.overCap} split plans found store more KV heads than the cap of ${problem.maxStoredGroups}: the whole-unit answer stands`
      : undefined;
  return buildSplitResult(problem, unit2gpu, parts, {
    lowerBound: s.lower,
    wholeMakespan: whole.makespan,
    status: problem.speeds.length === 1 ? 'trivial' : otherwise,
    gapTolerance: options.gapTolerance,
    engine,
    solveMs: whole.solveMs + (s.now() - s.start),
    fallbackReason: whole.fallbackReason,
    ...(declined ? { splitsDeclined: declined } : {}),
    ...(whole.kvLowerBound !== undefined && whole.kvStatus !== undefined
      ? { kv: { lowerBound: whole.kvLowerBound, status: whole.kvStatus } }
      : {}),
  });
}

/** The split answer in the Plan shape, its loads, makespan, gap and status computed from rows. */
export function buildSplitResult(
  problem: LayerProblem & { splits: LayerSplits },
  unit2gpu: readonly number[],
  parts: readonly SplitPart[],
  meta: {
    lowerBound: number;
    wholeMakespan: number;
    status: LayerStatus;
    gapTolerance: number;
    engine: string;
    solveMs: number;
    fallbackReason?: string;
    splitsDeclined?: string;
    /** The second objective's bound and status, when the answer is the whole-unit one that proved them. */
    kv?: KvMeta;
  },
): SplitLayerResult {
  const gpus = problem.speeds.length;
  const gpuLoads = partLoads(problem, unit2gpu, parts);
  const makespan = Math.max(...gpuLoads);
  const lowerBound = Math.min(meta.lowerBound, makespan);
  const gap = relativeGap(makespan, lowerBound);
  const owners: number[][] = Array.from({ length: gpus }, () => []);
  unit2gpu.forEach((g, u) => owners[g].push(u));
  const held = owners.map((list) => new Set(list));
  for (const part of parts) held[part.gpu].add(part.unit);
  const ownedGroups = owners.map((list) => new Set(list.map((u) => problem.splits.units[u].kvGroup)));
  const extraKv = owners.map(() => new Set<number>());
  for (const part of parts) {
    const group = problem.splits.units[part.unit].kvGroup;
    if (!ownedGroups[part.gpu].has(group)) extraKv[part.gpu].add(group);
  }
  return {
    layer: problem.layer,
    unit2gpu: [...unit2gpu],
    gpu2units: held.map((set) => [...set].sort((a, b) => a - b)),
    permutation: owners.flat(),
    gpuLoads,
    makespan,
    lowerBound,
    gap,
    status: meta.status === 'trivial' ? 'trivial' : statusForGap(gap, meta.gapTolerance, meta.status),
    engine: meta.engine,
    solveMs: meta.solveMs,
    ...(meta.fallbackReason !== undefined && meta.status === 'greedy_fallback'
      ? { fallbackReason: meta.fallbackReason }
      : {}),
    ...splitKvFields(
      problem,
      ownedGroups.map((set, g) => set.size + extraKv[g].size),
      parts.length === 0 ? meta.kv : undefined,
    ),
    parts: [...parts],
    splitHeads: new Set(parts.map((p) => p.unit)).size,
    extraKvCopies: extraKv.map((set) => set.size),
    wholeMakespan: meta.wholeMakespan,
    ...(meta.splitsDeclined !== undefined ? { splitsDeclined: meta.splitsDeclined } : {}),
  };
}

/**
 * The KV fields of a split answer where the layer knows its groups: each GPU stores the groups of
 * the units it owns and of the parts it runs (its own groups plus extraKvCopies). A split never
 * stores fewer than the whole-unit placement of its owners, so minStoredKvHeads still bounds it.
 */
function splitKvFields(
  problem: LayerProblem,
  kvHeadsPerGpu: number[],
  kv: KvMeta | undefined,
): Pick<LayerResult, 'kvHeadsPerGpu' | 'kvHeadsStored' | 'kvStatus' | 'kvLowerBound'> {
  if (problem.unit2group === undefined && problem.contiguousKvHeads === undefined) return {};
  const kvHeadsStored = kvHeadsPerGpu.reduce((a, b) => a + b, 0);
  const kvLowerBound = Math.min(kvHeadsStored, Math.max(minStoredKvHeads(problem), kv?.lowerBound ?? 0));
  const kvStatus = kv?.status ?? (kvLowerBound >= kvHeadsStored ? 'optimal' : 'heuristic');
  return { kvHeadsPerGpu, kvHeadsStored, kvStatus, kvLowerBound };
}
