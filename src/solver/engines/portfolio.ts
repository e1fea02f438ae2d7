/**
 * What the steps of a portfolio engine (auto) share: the best placement and the best bound any
 * step found, the clock, and the answer built from them with a true status.
 */
import type { GLPK } from 'glpk.js/node';
import { layerLowerBound } from '../bounds.ts';
import { type KvMeta, buildLayerResult, makespanOf, relativeGap, statusForGap } from '../layer-result.ts';
import type { LayerProblem, LayerResult, LayerStatus, SolveOptions } from '../types.ts';
import { tryGreedyAssignment } from './greedy.ts';
import { GLPK_OVERHEAD_MS, solveIlp } from './ilp.ts';

/**
 * GLPK's wall time over the time it was given, as first guessed when nothing was measured: the
 * 1.5-1.8x measured on 128-unit layers, so a fresh thread's first GLPK run does not overrun.
 */
export const GLPK_STRETCH = 1.8;

/**
 * The next estimate of GLPK's stretch after a run that was given `givenMs` and took `tookMs`: the
 * mean of the estimate and the run's own ratio, never below 1. For whoever keeps the estimate
 * across calls (SolveOptions.glpkStretch).
 */
export function nextGlpkStretch(stretch: number, givenMs: number, tookMs: number): number {
  return Math.max(1, 0.5 * stretch + (0.5 * tookMs) / givenMs);
}

/** A portfolio's running state. */
export interface Portfolio {
  readonly problem: LayerProblem;
  readonly options: SolveOptions;
  readonly now: () => number;
  readonly start: number;
  readonly deadline: number;
  /** [units] best placement so far, or null. */
  best: number[] | null;
  /** Its objective (Infinity without one). */
  upper: number;
  /** The best valid bound. */
  lower: number;
  /** The step that found `best`. */
  engine: string;
  fallbackReason?: string;
}

/** Starts from the caller's incumbent, else greedy's placement, and the static bound (or the caller's, if higher). */
export function startPortfolio(problem: LayerProblem, options: SolveOptions): Portfolio {
  const now = options.now ?? performance.now.bind(performance);
  const start = now();
  const best = options.incumbent ? [...options.incumbent] : tryGreedyAssignment(problem);
  return {
    problem,
    options,
    now,
    start,
    deadline: start + options.timeLimitMs,
    best,
    upper: best ? makespanOf(problem, best) : Infinity,
    lower: Math.max(layerLowerBound(problem), options.lowerBound ?? 0),
    engine: 'greedy',
  };
}

/** Keeps `placement` when it beats the incumbent. */
export function adopt(p: Portfolio, placement: number[] | null, by: string): void {
  if (!placement) return;
  const makespan = makespanOf(p.problem, placement);
  if (makespan < p.upper) {
    p.best = placement;
    p.upper = makespan;
    p.engine = by;
  }
}

/** Whether the gap is within the tolerance (or there is nothing to choose). */
export function settled(p: Portfolio): boolean {
  return p.problem.speeds.length === 1 || relativeGap(p.upper, p.lower) <= p.options.gapTolerance;
}

/** Tells the caller the best placement and bound before a step that may overrun. */
export function report(p: Portfolio): void {
  if (p.best) p.options.onProgress?.({ unit2gpu: p.best, lowerBound: p.lower, engine: p.engine });
}

/** The answer: the best placement with the status its gap earns (`otherwise` when open). */
export function finish(p: Portfolio, otherwise: LayerStatus, kv?: KvMeta): LayerResult {
  if (!p.best) throw new Error(p.fallbackReason ?? `no engine found a placement for layer ${p.problem.layer}`);
  const status =
    p.problem.speeds.length === 1
      ? 'trivial'
      : statusForGap(relativeGap(p.upper, p.lower), p.options.gapTolerance, otherwise);
  return buildLayerResult(p.problem, p.best, {
    lowerBound: p.lower,
    status,
    engine: p.engine,
    solveMs: p.now() - p.start,
    ...(p.fallbackReason ? { fallbackReason: p.fallbackReason } : {}),
    ...(kv ? { kv } : {}),
  });
}

/**
 * GLPK with the best placement as its cutoff, for the time left up to `until` shrunk by GLPK's
 * stretch (it overruns what it is given), and not at all when that is below twice its overhead.
 * Returns whether the ILP broke with nothing better than greedy to show (greedy_fallback).
 */
export function ilpStep(glpk: GLPK, p: Portfolio, until: number): boolean {
  const stretch = p.options.glpkStretch ?? GLPK_STRETCH;
  const given = (until - p.now()) / stretch;
  if (given <= 2 * GLPK_OVERHEAD_MS) return false;
  report(p);
  const before = p.now();
  const ilp = solveIlp(glpk, p.problem, {
    ...p.options,
    timeLimitMs: given,
    lowerBound: p.lower,
    ...(p.best ? { incumbent: p.best } : {}),
  });
  // Only a run that used its time says how much GLPK overruns; one that proved early says nothing.
  if (ilp.outcome === 'time_limit') p.options.onGlpkRun?.(given, p.now() - before);
  p.lower = Math.max(p.lower, ilp.lowerBound);
  if (ilp.unit2gpu.length > 0 && ilp.makespan < p.upper) {
    p.best = ilp.unit2gpu;
    p.upper = ilp.makespan;
    p.engine = 'ilp';
  }
  if (ilp.outcome !== 'failed') return false;
  p.fallbackReason = ilp.reason;
  // Nothing beat greedy and the ILP broke: say so rather than blame the clock.
  return p.engine === 'greedy';
}
