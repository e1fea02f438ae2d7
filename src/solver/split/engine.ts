import type { GLPK } from 'glpk.js/node';
import { GLPK_OVERHEAD_MS } from '../engines/ilp.ts';
import { relativeGap, statusForGap } from '../layer-result.ts';
import type { LayerProblem, LayerResult, LayerStatus } from '../types.ts';
import { splitLowerBound } from './bounds.ts';
import { chainPlan } from './chain.ts';
import { groupLowerBound } from './group-bound.ts';
import { solveSplitMilp } from './milp.ts';
import { partLoads, roundToRows, shareMakespan, shareSums, splitViolation } from './part-cost.ts';
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

/**
 * Splits a layer's heaviest units by query rows, starting from a whole-unit answer: the split
 * lower bound (split/bounds.ts) and the chain search at that level (split/chain.ts), else the
 * group bound (split/group-bound.ts) and the chain at its level; then, unless the gap is within
 * tolerance already, the wrap-around constructions and the mixed-integer program in GLPK with the best plan so far as its
 * cutoff. Shares are rounded to integer rows and the loads, makespan, gap and status are
 * recomputed from the rows; the bound stays valid because rows are a special case of shares.
 * Never worse than the whole-unit answer (which splits nothing).
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
  const deadline = start + options.timeLimitMs;
  const splits = problem.splits;
  let lower = splitLowerBound(problem, splits, whole.lowerBound);
  let best: SharePlan = { unit2gpu: [...whole.unit2gpu], parts: new Map() };
  let upper = Infinity;
  const gapOk = () => relativeGap(upper, lower) <= options.gapTolerance;
  // Wrap-around at the bound itself (a quarter of the tolerance left for rounding to rows); with
  // few split heads the groups they join give a stronger bound, worth its time when that fails.
  const chainAt = () => chainPlan(problem, splits, lower * (1 + options.gapTolerance / 4), CHAIN_WORK);
  let chained = chainAt();
  if (!chained) {
    const grouped = groupLowerBound(problem, splits);
    if (grouped > lower) {
      lower = grouped;
      chained = chainAt();
    }
  }
  if (chained) {
    // The chain stops at its level; the share LP takes its structure as low as it goes.
    best = glpk && now() < deadline ? polishShares(glpk, problem, splits, chained, deadline - now()) : chained;
    upper = shareMakespan(problem, splits, best);
  }
  const constructions = gapOk() ? [] : wrapAround(problem, splits, whole.unit2gpu, lower, options.gapTolerance);
  for (const constructed of constructions) {
    let plan = constructed;
    let makespan = shareMakespan(problem, splits, plan);
    // The share LP only where it can help, and only while time is left (a pool stops a task
    // that overruns its limit).
    if (glpk && relativeGap(makespan, lower) > options.gapTolerance && now() < deadline) {
      plan = polishShares(glpk, problem, splits, constructed, Math.max(1, deadline - now()));
      makespan = shareMakespan(problem, splits, plan);
    }
    if (makespan < upper) {
      best = plan;
      upper = makespan;
    }
    if (gapOk()) break;
  }
  // A construction often ends one part short of a structure that balances: add parts while the
  // share LP turns each into a lower makespan.
  while (glpk && !gapOk() && now() < deadline) {
    let improved = false;
    for (const wider of widerPlans(problem, splits, best, shareSums(problem, splits, best))) {
      if (now() >= deadline) break;
      const polished = polishShares(glpk, problem, splits, wider, Math.max(1, deadline - now()));
      const makespan = shareMakespan(problem, splits, polished);
      if (makespan < upper * (1 - 1e-12)) {
        best = polished;
        upper = makespan;
        improved = true;
      }
    }
    if (!improved) break;
  }
  let engine = best.parts.size > 0 ? 'split-wrap' : whole.engine;
  let otherwise: LayerStatus = options.exact ? 'time_limit' : 'heuristic';
  if (whole.makespan <= upper) {
    best = { unit2gpu: [...whole.unit2gpu], parts: new Map() };
    upper = whole.makespan;
    engine = whole.engine;
  }
  if (options.exact && glpk && !gapOk() && problem.speeds.length > 1 && deadline - now() > 2 * GLPK_OVERHEAD_MS) {
    const limits = { upper, lowerBound: lower, timeLimitMs: deadline - now(), gapTolerance: options.gapTolerance };
    const milp = solveSplitMilp(glpk, problem, splits, limits);
    lower = Math.max(lower, Math.min(milp.lowerBound, upper));
    if (milp.plan) {
      best = milp.plan;
      upper = shareMakespan(problem, splits, best);
      engine = 'split-milp';
    }
  }
  let { parts, unit2gpu } = roundToRows(splits, best);
  // Rounding to rows costs at most a row per boundary; if that loses to the whole answer, keep it.
  if (parts.length > 0 && Math.max(...partLoads(problem, unit2gpu, parts)) > whole.makespan) {
    ({ parts, unit2gpu } = { parts: [], unit2gpu: [...whole.unit2gpu] });
    engine = whole.engine;
  }
  if (whole.status === 'greedy_fallback' && engine === whole.engine) otherwise = 'greedy_fallback';
  const violation = splitViolation(problem, splits, unit2gpu, parts);
  if (violation !== null) throw new Error(`split answer of layer ${problem.layer} breaks a rule: ${violation}`);
  return buildSplitResult(problem, unit2gpu, parts, {
    lowerBound: lower,
    wholeMakespan: whole.makespan,
    status: problem.speeds.length === 1 ? 'trivial' : otherwise,
    gapTolerance: options.gapTolerance,
    engine,
    solveMs: whole.solveMs + (now() - start),
    fallbackReason: whole.fallbackReason,
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
    parts: [...parts],
    splitHeads: new Set(parts.map((p) => p.unit)).size,
    extraKvCopies: extraKv.map((set) => set.size),
    wholeMakespan: meta.wholeMakespan,
  };
}
