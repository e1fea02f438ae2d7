/**
 * auto's steps for a layer whose KV copies cost something or are capped, or whose objective is a
 * phase mix (kv/groups.ts): bounds (kv/bounds.ts) and the group-aware greedy; if the cap allows
 * only the least copies, the exact reduction (kv/reduce.ts) solved by the unit steps; otherwise
 * the configuration search (KV-aware) and then GLPK on the KV model with the best placement as its
 * cutoff; last, the second objective (kv/lex.ts): the fewest KV heads stored within the makespan
 * found, with its own status and bound.
 */
import type { GLPK } from 'glpk.js/node';
import { HplbError } from '../../errors.ts';
import { aggregateLayer } from '../aggregate.ts';
import { configSearch } from '../engines/config-search.ts';
import { tryGreedyAssignment } from '../engines/greedy.ts';
import { type Portfolio, adopt, finish, ilpStep, report, settled, startPortfolio } from '../engines/portfolio.ts';
import { solveUnitLayer } from '../engines/unit-auto.ts';
import { REL_EPS, makespanOf } from '../layer-result.ts';
import { SearchTimeout, type LayerProblem, type LayerResult, type SolveOptions } from '../types.ts';
import { groupsMatter, kvFeatured } from './groups.ts';
import { createDecideMemo, kvDecide } from './kv-decide.ts';
import { improveKvAssignment } from './greedy.ts';
import { fewestCopies } from './lex.ts';
import { resplitKvPairs } from './pair-resplit.ts';
import { minStoredKvHeads } from './min-stored.ts';
import { groupPerGpuReduction, wholeGroupReduction } from './reduce.ts';

/** Share of the layer's time for the makespan; the second objective has the rest (and what the first leaves). */
const MAKESPAN_SHARE = 0.8;
/** Most time local moves may take after each decision found a better placement, ms. */
const POLISH_MS = 10;
/** Least time the second objective gets, ms. */
const LEX_LEAST_MS = 100;
/** Share of the layer's time re-splitting pairs of GPUs may use, at most (it stops at the tolerance). */
const RESPLIT_SHARE = 0.15;
/** Share of the makespan's time the configuration search may use before GLPK gets the rest. */
const SEARCH_SHARE = 0.6;
/**
 * Share of the layer's time the contiguous placement's cap (1.0) may use to give a looser cap its
 * incumbent: it stops once proven (milliseconds on the shipped profiles), so most of it is left.
 */
const TIGHTER_SHARE = 0.3;

export function solveKvLayer(glpk: GLPK, problem: LayerProblem, options: SolveOptions): LayerResult {
  const p = startPortfolio(problem, options);
  const until = p.start + MAKESPAN_SHARE * options.timeLimitMs;
  let brokenIlp = false;
  if (!settled(p)) tighterCapStep(glpk, p);
  if (!settled(p) && !reductionStep(glpk, p, until)) {
    if (p.best && groupsMatter(problem)) {
      const goal = p.lower / (1 - options.gapTolerance);
      const deadline = p.start + RESPLIT_SHARE * options.timeLimitMs;
      adopt(p, resplitKvPairs(problem, p.best, { deadline, now: p.now, goal }), 'resplit');
    }
    report(p);
    // A mix decides on its combined loads only: the search gets a share, GLPK's mix model the rest.
    if (problem.phases) searchStep(p, p.now() + SEARCH_SHARE * (until - p.now()));
    else targetStep(glpk, p, until);
    if (!settled(p)) brokenIlp = ilpStep(glpk, p, until);
  }
  if (!p.best) return finish(p, 'time_limit');
  // The second objective gets what the first used (and at least LEX_LEAST_MS), not more: it must
  // not double a plan's time on layers it cannot close.
  const lexDeadline = Math.min(p.deadline, p.now() + Math.max(LEX_LEAST_MS, p.now() - p.start));
  const copies = fewestCopies(glpk, problem, p.best, lexDeadline, p.now);
  p.best = copies.unit2gpu;
  p.upper = makespanOf(problem, p.best);
  const kv = { lowerBound: copies.lowerBound, status: copies.status };
  return finish(p, brokenIlp && p.engine === 'greedy' ? 'greedy_fallback' : 'time_limit', kv);
}

/**
 * A looser cap (or none) must never plan worse than the contiguous placement's cap (factor 1.0):
 * every placement that meets that cap meets this one, and there the exact reductions usually
 * prove the optimum in milliseconds. So that optimum (or what its share of the time found) is an
 * incumbent, and makespans cannot rise as the cap loosens past 1.0.
 */
function tighterCapStep(glpk: GLPK, p: Portfolio): void {
  const least = p.problem.contiguousKvHeads;
  if (least === undefined || !groupsMatter(p.problem) || (p.problem.maxStoredGroups ?? Infinity) <= least) return;
  const tighter: LayerProblem = { ...p.problem, maxStoredGroups: least };
  // Greedy's placement under the tighter cap starts it (none: that cap is out of reach here).
  const start = minStoredKvHeads(tighter) <= least ? tryGreedyAssignment(tighter) : null;
  if (!start) return;
  const options: SolveOptions = {
    ...p.options,
    timeLimitMs: Math.max(1, TIGHTER_SHARE * p.options.timeLimitMs),
    incumbent: start,
    lowerBound: undefined,
    onProgress: undefined,
  };
  adopt(p, solveKvLayer(glpk, tighter, options).unit2gpu, 'tighter-cap');
}

/**
 * The exact reductions where they apply, solved until `until`: true when one answered (its bound
 * is the layer's, so nothing else can do better).
 */
function reductionStep(glpk: GLPK, p: Portfolio, until: number): boolean {
  const whole = wholeGroupReduction(p.problem);
  if (whole) {
    const unit2group = p.problem.unit2group!;
    const group2gpu = (unit2gpu: readonly number[]) => {
      const out = new Array<number>(whole.reduced.costs.length).fill(-1);
      unit2gpu.forEach((g, u) => {
        out[unit2group[u]] = g;
      });
      return out;
    };
    const options: SolveOptions = {
      ...p.options,
      timeLimitMs: Math.max(1, until - p.now()),
      lowerBound: p.lower,
      ...(p.best ? { incumbent: group2gpu(p.best) } : { incumbent: undefined }),
      onProgress: (progress) => p.options.onProgress?.({ ...progress, unit2gpu: whole.expand(progress.unit2gpu) }),
    };
    const reduced = solveReduced(glpk, whole.reduced, options);
    adopt(p, whole.expand(reduced.unit2gpu), 'whole-groups');
    p.lower = Math.max(p.lower, reduced.lowerBound);
    return true;
  }
  const perGpu = groupPerGpuReduction(p.problem);
  if (!perGpu) return false;
  const speed = p.problem.speeds[0];
  const answers = perGpu.parts.map((part, k) => {
    const left = perGpu.parts.length - k;
    return solveUnitLayer(glpk, part, { ...p.options, timeLimitMs: Math.max(1, (until - p.now()) / left) });
  });
  const bound = Math.max(...answers.map((a, k) => a.lowerBound + perGpu.copyCosts[k] / speed));
  adopt(p, perGpu.expand(answers.map((a) => a.unit2gpu)), 'group-per-gpu');
  p.lower = Math.max(p.lower, bound);
  return true;
}

/** A reduced problem: the unit steps, or (a mix) these steps again. */
function solveReduced(glpk: GLPK, reduced: LayerProblem, options: SolveOptions): LayerResult {
  return kvFeatured(reduced) ? solveKvLayer(glpk, reduced, options) : solveUnitLayer(glpk, reduced, options);
}

/**
 * Lowers the incumbent by deciding targets just under it (kv/kv-decide.ts) until one has no
 * placement (the incumbent is then optimal: a gap of REL_EPS / 2) or time runs out. Each feasible
 * target lowers the incumbent; only the last decision is a refutation.
 */
function targetStep(glpk: GLPK, p: Portfolio, until: number): void {
  const layer = aggregateLayer(p.problem);
  const memo = createDecideMemo();
  const limits = { deadline: until, now: p.now, memo };
  if (!p.best) {
    const any = kvDecide(glpk, p.problem, layer, Infinity, limits);
    if (any.decision === null) throw infeasible(p.problem);
    if (any.decision === 'timeout') return;
    adopt(p, any.decision, any.by);
  }
  while (!settled(p) && p.now() < until) {
    const target = p.upper * (1 - REL_EPS / 2);
    if (target <= p.lower) return;
    const { decision, by } = kvDecide(glpk, p.problem, layer, target, limits);
    if (decision === 'timeout') return;
    if (decision === null) {
      p.lower = Math.max(p.lower, target);
      return;
    }
    // Only rounding can make a placement within the target no better than the incumbent.
    if (makespanOf(p.problem, decision) >= p.upper) return;
    adopt(p, decision, by);
    // A decision lands just under the incumbent; local moves often take it further at once.
    const goal = p.lower / (1 - p.options.gapTolerance);
    const deadline = Math.min(until, p.now() + POLISH_MS);
    adopt(p, resplitKvPairs(p.problem, improveKvAssignment(p.problem, decision), { deadline, now: p.now, goal }), by);
  }
}

function infeasible(problem: LayerProblem): HplbError {
  return new HplbError(
    'INFEASIBLE_CONSTRAINTS',
    `no placement of layer ${problem.layer} meets the unit-count, KV-group, KV-cache and pin constraints (exhaustive search)`,
    { pointer: '/constraints', rule: 'feasible' },
  );
}

/** The KV-aware configuration search until `until`; running out of time before any placement leaves GLPK to try. */
function searchStep(p: Portfolio, until: number): void {
  try {
    const limit = Math.max(1, until - p.now());
    const found = configSearch(p.problem, {
      ...p.options,
      timeLimitMs: limit,
      ...(p.best ? { incumbent: p.best } : {}),
    });
    p.lower = Math.max(p.lower, found.lowerBound);
    adopt(p, found.unit2gpu, 'search');
  } catch (error) {
    if (!(error instanceof SearchTimeout)) throw error;
    p.fallbackReason = error.message;
  }
}
