import type { GLPK } from 'glpk.js/node';
import { aggregateLayer } from '../aggregate.ts';
import { layerLowerBound } from '../bounds.ts';
import { buildLayerResult, makespanOf, relativeGap, statusForGap } from '../layer-result.ts';
import {
  SearchTimeout,
  type LayerEngine,
  type LayerProblem,
  type LayerResult,
  type LayerStatus,
  type SolveOptions,
} from '../types.ts';
import { configSearch } from './config-search.ts';
import { differencingPlacement } from './differencing.ts';
import { tryGreedyAssignment } from './greedy.ts';
import { GLPK_OVERHEAD_MS, solveIlp } from './ilp.ts';
import { resplitGroups } from './group-resplit.ts';
import { rebalancePairs } from './pair-rebalance.ts';
import { partitionSearch, partitionSearchApplies } from './partition-search.ts';

/** Share of the layer's time the configuration search may use before GLPK gets the rest. */
const SEARCH_SHARE = 0.7;
/** Share of the time left that re-splitting groups of GPUs may use before the complete search. */
const RESPLIT_SHARE = 0.75;
/** Share of the layer's time the pair re-splitting local search may use, at most (it stops at the tolerance). */
const REBALANCE_SHARE = 0.5;

/**
 * The default engine, a portfolio: bounds, then the better of greedy and differencing, improved by
 * re-splitting pairs of GPUs; stop if that is within the gap tolerance of the bound; else an exact
 * search: the partition search (bin completion) on layers of mostly distinct costs on identical
 * GPUs, until the deadline; otherwise the configuration search and, if that runs out of its share
 * of time, GLPK on the aggregated ILP with the best placement so far as its cutoff. It keeps the best
 * placement and the best bound any step found, so it is never worse than greedy and its status
 * and gap are true. `engine` in the result names the step that produced the answer; when the ILP
 * fails and nothing beat greedy, the status is greedy_fallback with the ILP's reason.
 */
export function createAutoEngine(glpk: GLPK): LayerEngine {
  /**
   * GLPK's wall time over the time it was given, averaged over this engine's runs (>= 1). It
   * starts at the 1.5-1.8x measured on 128-unit layers, so a fresh worker's first GLPK run is
   * not the one that overruns the pool's grace.
   */
  let glpkStretch = 1.8;
  return {
    name: 'auto',
    solveLayer(problem: LayerProblem, options: SolveOptions): LayerResult {
      const now = options.now ?? performance.now.bind(performance);
      const start = now();
      const deadline = start + options.timeLimitMs;
      let best: number[] | null = options.incumbent ? [...options.incumbent] : tryGreedyAssignment(problem);
      let engine = 'greedy';
      let upper = best ? makespanOf(problem, best) : Infinity;
      let lower = Math.max(layerLowerBound(problem), options.lowerBound ?? 0);
      /** Keeps `placement` when it beats the incumbent. */
      const adopt = (placement: number[] | null, by: string): void => {
        if (placement && makespanOf(problem, placement) < upper) {
          best = placement;
          upper = makespanOf(problem, placement);
          engine = by;
        }
      };
      // Raw differencing: the pair re-splitting below improves it more than greedy's local search.
      adopt(differencingPlacement(problem), 'differencing');
      // Layers of few distinct costs are the configuration search's; the re-splitting would only
      // take its time. Mostly distinct costs are where the search needs a close start.
      const mostlyDistinct = aggregateLayer(problem).classes.length > problem.costs.length / 2;
      if (best && mostlyDistinct && problem.speeds.length > 1 && relativeGap(upper, lower) > options.gapTolerance) {
        const goal = lower / (1 - options.gapTolerance);
        adopt(
          rebalancePairs(problem, best, { deadline: start + REBALANCE_SHARE * options.timeLimitMs, now, goal }),
          'rebalance',
        );
      }
      let fallbackReason: string | undefined;
      const finish = (otherwise: LayerStatus): LayerResult => {
        if (!best) throw new Error(fallbackReason ?? `no engine found a placement for layer ${problem.layer}`);
        const status =
          problem.speeds.length === 1
            ? 'trivial'
            : statusForGap(relativeGap(upper, lower), options.gapTolerance, otherwise);
        return buildLayerResult(problem, best, {
          lowerBound: lower,
          status,
          engine,
          solveMs: now() - start,
          ...(fallbackReason ? { fallbackReason } : {}),
        });
      };
      if (problem.speeds.length === 1 || relativeGap(upper, lower) <= options.gapTolerance) return finish('time_limit');
      const report = () => {
        if (best) options.onProgress?.({ unit2gpu: best, lowerBound: lower, engine });
      };
      report();

      // Few distinct costs: configurations of identical units; mostly distinct ones: bin completion,
      // with all the time left, since GLPK neither closes such layers nor keeps to its time.
      const distinct = best !== null && mostlyDistinct && partitionSearchApplies(problem);
      if (distinct && best) {
        // Most of the time to re-splitting groups of GPUs exactly (placements close to the bound),
        // the rest to the complete search (proofs; it closes the small layers at once anyway).
        const goal = lower / (1 - options.gapTolerance);
        adopt(
          resplitGroups(problem, best, { deadline: now() + RESPLIT_SHARE * (deadline - now()), now, goal }),
          'resplit',
        );
        if (relativeGap(upper, lower) <= options.gapTolerance) return finish('time_limit');
        report();
      }
      try {
        const limit = (deadline - now()) * (distinct ? 1 : SEARCH_SHARE);
        const searchOptions = { ...options, timeLimitMs: limit, ...(best ? { incumbent: best } : {}) };
        const found = distinct ? partitionSearch(problem, searchOptions) : configSearch(problem, searchOptions);
        lower = Math.max(lower, found.lowerBound);
        if (found.makespan < upper) {
          best = found.unit2gpu;
          upper = found.makespan;
          engine = distinct ? 'partition' : 'search';
        }
        if (relativeGap(upper, lower) <= options.gapTolerance) return finish('time_limit');
      } catch (error) {
        // Running out of time before any placement leaves the ILP to try; anything else (a proof
        // of infeasibility, a bug) ends the matter.
        if (!(error instanceof SearchTimeout)) throw error;
        fallbackReason = error.message;
      }

      // GLPK overruns the time it is given (by 3x and more on large layers): it gets the time left
      // shrunk by the overrun measured so far, and nothing when that leaves less than its overhead.
      const given = (deadline - now()) / glpkStretch;
      if (!distinct && given > 2 * GLPK_OVERHEAD_MS) {
        report();
        const before = now();
        const ilp = solveIlp(glpk, problem, { ...options, timeLimitMs: given, ...(best ? { incumbent: best } : {}) });
        glpkStretch = Math.max(1, 0.5 * glpkStretch + (0.5 * (now() - before)) / given);
        lower = Math.max(lower, ilp.lowerBound);
        if (ilp.unit2gpu.length > 0 && ilp.makespan < upper) {
          best = ilp.unit2gpu;
          upper = ilp.makespan;
          engine = 'ilp';
        }
        if (ilp.outcome === 'failed') {
          fallbackReason = ilp.reason;
          // Nothing beat greedy and the ILP broke: say so rather than blame the clock.
          if (engine === 'greedy') return finish('greedy_fallback');
        }
      }
      return finish('time_limit');
    },
  };
}
