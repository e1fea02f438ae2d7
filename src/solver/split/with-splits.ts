import type { GLPK } from 'glpk.js/node';
import type { LayerEngine, LayerProblem, LayerResult, SolveOptions } from '../types.ts';
import { buildSplitResult, solveSplitLayer } from './engine.ts';
import { splitFitsCap, splitKvCap } from './part-cost.ts';
import type { LayerSplits } from './types.ts';

/** Share of a layer's time the whole-unit engine may use before splitting gets the rest. */
const WHOLE_SHARE = 0.5;

/**
 * True when a problem allows splits that could matter (some split head, more than one GPU, one
 * phase: splits are a prefill matter and a mix's objective is not a makespan).
 */
export function splitsEnabled(problem: LayerProblem): problem is LayerProblem & { splits: LayerSplits } {
  return (
    problem.splits !== undefined &&
    problem.splits.maxSplitHeads > 0 &&
    problem.speeds.length > 1 &&
    problem.phases === undefined
  );
}

/**
 * An engine that also splits heads when the problem allows it: the wrapped engine places whole
 * units, then solveSplitLayer starts from its answer. `exact` engines get the split MILP; the
 * heuristic ones (greedy, contiguous) only the construction. Without splits it is the engine itself.
 */
export function withSplits(engine: LayerEngine, glpk: GLPK, exact: boolean): LayerEngine {
  return {
    name: engine.name,
    solveLayer(problem: LayerProblem, options: SolveOptions): LayerResult {
      if (!splitsEnabled(problem)) return engine.solveLayer(problem, options);
      // No split fits under the cap: the whole-unit answer is the answer, with all of the time.
      if (!splitFitsCap(problem)) return wholeOnly(problem, engine.solveLayer(problem, options), options.gapTolerance);
      const now = options.now ?? performance.now.bind(performance);
      const deadline = now() + options.timeLimitMs;
      const whole = engine.solveLayer(problem, { ...options, timeLimitMs: options.timeLimitMs * WHOLE_SHARE });
      const timeLimitMs = Math.max(1, deadline - now());
      return solveSplitLayer(glpk, problem, whole, { timeLimitMs, gapTolerance: options.gapTolerance, now, exact });
    },
  };
}

/**
 * The whole-unit answer as the split answer where no split meets the KV-cache cap: the split
 * problem's placements are then the whole-unit ones, so its bound and status hold unchanged.
 */
function wholeOnly(
  problem: LayerProblem & { splits: LayerSplits },
  whole: LayerResult,
  gapTolerance: number,
): LayerResult {
  return buildSplitResult(problem, whole.unit2gpu, [], {
    lowerBound: whole.lowerBound,
    wholeMakespan: whole.makespan,
    status: whole.status,
    gapTolerance,
    engine: whole.engine,
    solveMs: whole.solveMs,
    ...(whole.fallbackReason !== undefined ? { fallbackReason: whole.fallbackReason } : {}),
    splitsDeclined: `no split fits the cap of ${splitKvCap(problem)} KV heads: every group is stored once already, and a split stores its group twice`,
    ...(whole.kvLowerBound !== undefined && whole.kvStatus !== undefined
      ? { kv: { lowerBound: whole.kvLowerBound, status: whole.kvStatus } }
      : {}),
  });
}
