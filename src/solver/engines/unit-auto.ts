import type { GLPK } from 'glpk.js/node';
import { aggregateLayer } from '../aggregate.ts';
import { relativeGap } from '../layer-result.ts';
import { SearchTimeout, type LayerProblem, type LayerResult, type SolveOptions } from '../types.ts';
import { configSearch } from './config-search.ts';
import { differencingPlacement } from './differencing.ts';
import { resplitGroups } from './group-resplit.ts';
import { rebalancePairs } from './pair-rebalance.ts';
import { partitionSearch, partitionSearchApplies } from './partition-search.ts';
import { type Portfolio, adopt, finish, ilpStep, report, settled, startPortfolio } from './portfolio.ts';

/** Share of the layer's time the configuration search may use before GLPK gets the rest. */
const SEARCH_SHARE = 0.7;
/** Share of the time left that re-splitting groups of GPUs may use before the complete search. */
const RESPLIT_SHARE = 0.75;
/** Share of the layer's time the pair re-splitting local search may use, at most (it stops at the tolerance). */
const REBALANCE_SHARE = 0.5;

/**
 * auto's steps for a layer whose units cost what they cost (no priced or capped KV copies, one
 * phase): bounds, then the better of greedy and differencing, improved by re-splitting pairs of
 * GPUs; stop if that is within the gap tolerance of the bound; else an exact search: on layers of
 * mostly distinct costs on identical GPUs, re-splitting groups of GPUs exactly, then the partition
 * search (bin completion) until the deadline; otherwise the configuration search and, if that
 * runs out of its share of time, GLPK on the aggregated ILP with the best placement so far as its
 * cutoff. When the ILP fails and nothing beat greedy, the status is greedy_fallback with the ILP's
 * reason.
 */
export function solveUnitLayer(glpk: GLPK, problem: LayerProblem, options: SolveOptions): LayerResult {
  const p = startPortfolio(problem, options);
  // Layers of few distinct costs are the configuration search's; the re-splitting would only
  // take its time. Mostly distinct costs are where the search needs a close start.
  const mostlyDistinct = aggregateLayer(problem).classes.length > problem.costs.length / 2;
  constructionStep(p, mostlyDistinct);
  if (settled(p)) return finish(p, 'time_limit');
  report(p);
  // Few distinct costs: configurations of identical units; mostly distinct ones: bin completion,
  // with all the time left, since GLPK neither closes such layers nor keeps to its time.
  const distinct = p.best !== null && mostlyDistinct && partitionSearchApplies(problem);
  if (distinct) {
    resplitStep(p);
    if (settled(p)) return finish(p, 'time_limit');
    report(p);
  }
  exactSearchStep(p, distinct);
  if (settled(p)) return finish(p, 'time_limit');
  if (!distinct && ilpStep(glpk, p, p.deadline)) return finish(p, 'greedy_fallback');
  return finish(p, 'time_limit');
}

/** Raw differencing (pair re-splitting improves it more than greedy's local search), then pair re-splitting. */
function constructionStep(p: Portfolio, mostlyDistinct: boolean): void {
  adopt(p, differencingPlacement(p.problem), 'differencing');
  if (!p.best || !mostlyDistinct || p.problem.speeds.length <= 1) return;
  if (relativeGap(p.upper, p.lower) <= p.options.gapTolerance) return;
  const goal = p.lower / (1 - p.options.gapTolerance);
  const deadline = p.start + REBALANCE_SHARE * p.options.timeLimitMs;
  adopt(p, rebalancePairs(p.problem, p.best, { deadline, now: p.now, goal }), 'rebalance');
}

/**
 * Most of the time to re-splitting groups of GPUs exactly (placements close to the bound), the
 * rest to the complete search (proofs; it closes the small layers at once anyway).
 */
function resplitStep(p: Portfolio): void {
  const goal = p.lower / (1 - p.options.gapTolerance);
  const deadline = p.now() + RESPLIT_SHARE * (p.deadline - p.now());
  adopt(p, resplitGroups(p.problem, p.best!, { deadline, now: p.now, goal }), 'resplit');
}

/**
 * The partition search with all the time left (distinct costs), else the configuration search
 * with its share. Running out of time before any placement leaves the ILP to try; anything else
 * (a proof of infeasibility, a bug) ends the matter.
 */
function exactSearchStep(p: Portfolio, distinct: boolean): void {
  try {
    const limit = (p.deadline - p.now()) * (distinct ? 1 : SEARCH_SHARE);
    const searchOptions = { ...p.options, timeLimitMs: limit, ...(p.best ? { incumbent: p.best } : {}) };
    const found = distinct ? partitionSearch(p.problem, searchOptions) : configSearch(p.problem, searchOptions);
    p.lower = Math.max(p.lower, found.lowerBound);
    if (found.makespan < p.upper) {
      p.best = found.unit2gpu;
      p.upper = found.makespan;
      p.engine = distinct ? 'partition' : 'search';
    }
  } catch (error) {
    if (!(error instanceof SearchTimeout)) throw error;
    p.fallbackReason = error.message;
  }
}
