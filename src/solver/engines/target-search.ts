/**
 * What the two exact searches (config-search.ts, partition-search.ts) share: an incumbent lowered
 * by deciding targets under it, each "none exists" raising the proven bound, and the engine that
 * reports such a search's outcome.
 */
import { layerLowerBound } from '../bounds.ts';
import { buildLayerResult, makespanOf, relativeGap, statusForGap } from '../layer-result.ts';
import type { LayerProblem, LayerResult, SolveOptions } from '../types.ts';

/** Outcome of one search, with the tightest facts it established. */
export interface SearchOutcome {
  /** [units] best placement found. */
  readonly unit2gpu: number[];
  readonly makespan: number;
  /** A valid lower bound: the static bounds, raised by every target proven infeasible. */
  readonly lowerBound: number;
  /** True when the search ran out of time before closing the gap. */
  readonly timedOut: boolean;
}

/** A placement with every GPU load <= the target ([units] GPU of each unit), null when none exists, or 'timeout'. */
export type Decision = number[] | null | 'timeout';

/** How a search walks its targets down. */
export interface TargetRule {
  /** The gap at which the search stops. */
  readonly stopGap: number;
  /** The next target from the incumbent's makespan and the proven bound (`first`: none decided yet); null: stop. */
  next(upper: number, lower: number, first: boolean): number | null;
}

/**
 * Lowers `start` by deciding the targets `rule` picks: a placement within a target becomes the
 * incumbent, a target with none is a proven lower bound.
 */
export function lowerIncumbent(
  problem: LayerProblem,
  start: number[],
  rule: TargetRule,
  decide: (target: number) => Decision,
): SearchOutcome {
  let best = start;
  let upper = makespanOf(problem, best);
  let lower = Math.min(layerLowerBound(problem), upper);
  let first = true;
  while (relativeGap(upper, lower) > rule.stopGap) {
    const target = rule.next(upper, lower, first);
    first = false;
    if (target === null) break;
    const found = decide(target);
    if (found === 'timeout') return { unit2gpu: best, makespan: upper, lowerBound: lower, timedOut: true };
    if (found === null) {
      lower = Math.max(lower, target);
      continue;
    }
    const makespan = makespanOf(problem, found);
    // Only rounding can make a placement within the target no better than the incumbent: stop
    // there, with the gap we can prove, rather than loop.
    if (makespan >= upper) break;
    best = found;
    upper = makespan;
  }
  return { unit2gpu: best, makespan: upper, lowerBound: Math.min(lower, upper), timedOut: false };
}

/** Runs an exact search as engine `engine`: `time_limit` while its gap is above the tolerance (a mix left open: `heuristic`). */
export function solveBySearch(
  problem: LayerProblem,
  options: SolveOptions,
  engine: string,
  search: (problem: LayerProblem, options: SolveOptions) => SearchOutcome,
): LayerResult {
  const now = options.now ?? performance.now.bind(performance);
  const start = now();
  const outcome = search(problem, options);
  // A mix is decided on its combined loads: a search that ends without closing the gap ran out of
  // targets, not of time.
  const open = problem.phases && !outcome.timedOut ? 'heuristic' : 'time_limit';
  const status = statusForGap(relativeGap(outcome.makespan, outcome.lowerBound), options.gapTolerance, open);
  return buildLayerResult(problem, outcome.unit2gpu, {
    lowerBound: outcome.lowerBound,
    status,
    engine,
    solveMs: now() - start,
  });
}
