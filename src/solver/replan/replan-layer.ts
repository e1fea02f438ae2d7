import type { GLPK } from 'glpk.js/node';
import { HplbError } from '../../errors.ts';
import { kvFeatured } from '../kv/groups.ts';
import { constraintViolation, makespanOf } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { solveMigrationIlp } from './migration-ilp.ts';
import {
  type MoveState,
  answer,
  costsRepeat,
  fitsTarget,
  incumbent,
  migrationIlpStep,
  moveSearchStep,
  uniformMoveCost,
} from './move-steps.ts';
import type { LayerReplan, MigrationSpec } from './types.ts';

/** Stage 1's answer for the layer: the best placement of the new problem, from the engines. */
export interface FreshLayer {
  /** [units] GPU of each unit. */
  readonly unit2gpu: readonly number[];
  /** C*: its makespan. */
  readonly makespan: number;
}

export interface ReplanOptions {
  /** Time for the exact migration steps, ms. */
  readonly timeLimitMs: number;
  /** Loaded GLPK; null runs the heuristics alone (status heuristic), as a quick fallback. */
  readonly glpk: GLPK | null;
  /** Monotonic clock, ms. */
  readonly now?: () => number;
}

/** Share of the exact time the move search may use before GLPK gets the rest. */
const SEARCH_SHARE = 0.5;

/** A re-plan's placement plus the makespan bound the move-limited stage proved (if it ran). */
export interface ReplanOutcome extends LayerReplan {
  /** With maxMoves binding: a lower bound on the best makespan under that limit. */
  readonly limitedMakespanBound?: number;
}

/**
 * Stage 2 of the lexicographic re-plan of one layer: the least move cost among placements whose
 * makespan is within (1 + eps) C*, C* being stage 1's makespan. The previous placement is kept
 * when it already meets the target (nothing moves: proven minimal). Otherwise the better of the
 * fresh plan relabelled at best and the previous placement repaired, both improved by swaps, is
 * the incumbent; with equal move costs and repeated unit costs the exact move search tries to
 * beat it and prove the minimum, and GLPK on the aggregated migration model, cut off just below
 * the incumbent, gets the rest of the time.
 * With maxMoves, when the least-cost answer needs more moves than allowed, the reference becomes
 * the best makespan reachable with at most maxMoves moves (GLPK), and the same move minimisation
 * runs against (1 + eps) times that.
 */
export function replanLayer(
  problem: LayerProblem,
  spec: MigrationSpec,
  fresh: FreshLayer,
  options: ReplanOptions,
): ReplanOutcome {
  // Against C* first; with maxMoves this already answers when C* is reachable within the limit.
  const nearOptimal = minimiseMoves(problem, spec, fresh, fresh.makespan, options.timeLimitMs / 2, options);
  if ('unit2gpu' in nearOptimal) return nearOptimal;
  if (spec.maxMoves === undefined) {
    const target = fresh.makespan * (1 + spec.makespanTolerance);
    throw new HplbError(
      'INFEASIBLE_CONSTRAINTS',
      `layer ${problem.layer}: no placement within makespan ${target} was found (${nearOptimal.reason})`,
      { pointer: '/migration', rule: 'feasible' },
    );
  }
  return replanWithMoveLimit(problem, spec, spec.maxMoves, options);
}

/**
 * The least move cost within (1 + eps) x reference (and within maxMoves when set), or why none
 * was found.
 */
function minimiseMoves(
  problem: LayerProblem,
  spec: MigrationSpec,
  fresh: FreshLayer | null,
  reference: number,
  timeLimitMs: number,
  options: ReplanOptions,
): LayerReplan | { reason: string } {
  const { glpk } = options;
  const now = options.now ?? performance.now.bind(performance);
  const deadline = now() + timeLimitMs;
  const target = reference * (1 + spec.makespanTolerance);
  if (fitsTarget(problem, spec.previous, target))
    return answer(spec, [...spec.previous], {
      reference,
      target,
      status: 'optimal',
      lowerBound: 0,
      engine: 'previous',
    });
  const state: MoveState = {
    best: incumbent(problem, spec, fresh, target),
    engine: 'greedy',
    status: 'heuristic',
    lowerBound: 0,
    ...(glpk ? {} : { reason: 'no GLPK instance: relabelling and swaps only' }),
  };
  if (glpk && uniformMoveCost(spec) !== null && costsRepeat(problem) && !kvFeatured(problem)) {
    // Equal move costs and repeated unit costs: the exact move search over configurations, which
    // often proves at once. With all-distinct costs its configurations explode: GLPK gets the time.
    // It does not price KV copies or a mix's phases: such layers go to GLPK's migration model.
    const proved = moveSearchStep(
      problem,
      spec,
      { reference, target, now, until: now() + timeLimitMs * SEARCH_SHARE },
      state,
    );
    if (proved) return proved;
  }
  if (glpk) migrationIlpStep(glpk, problem, spec, { target, timeLimitMs: Math.max(1, deadline - now()) }, state);
  if (!state.best) return { reason: state.reason ?? 'no placement found' };
  const { status, lowerBound, engine, reason } = state;
  return answer(spec, state.best, {
    reference,
    target,
    status,
    lowerBound,
    engine,
    ...(reason && status !== 'optimal' ? { reason } : {}),
  });
}

function replanWithMoveLimit(
  problem: LayerProblem,
  spec: MigrationSpec,
  maxMoves: number,
  options: ReplanOptions,
): ReplanOutcome {
  const previousFeasible = constraintViolation(problem, spec.previous) === null;
  const fallback = (reason: string): ReplanOutcome => {
    if (!previousFeasible) {
      throw new HplbError(
        'INFEASIBLE_CONSTRAINTS',
        `layer ${problem.layer}: no placement with at most ${maxMoves} moves was found (${reason})`,
        { pointer: '/migration/maxMoves', rule: 'feasible' },
      );
    }
    const makespan = makespanOf(problem, spec.previous);
    const meta = {
      reference: makespan,
      target: makespan,
      status: 'heuristic',
      lowerBound: 0,
      engine: 'previous',
      reason,
    } as const;
    return answer(spec, [...spec.previous], meta);
  };
  if (!options.glpk) return fallback('no GLPK instance to search under the move limit');
  const best = solveMigrationIlp(options.glpk, problem, spec, { kind: 'makespan' }, options.timeLimitMs / 4);
  if (!best.unit2gpu) return fallback(best.reason ?? 'GLPK found no placement under the move limit');
  let reference = makespanOf(problem, best.unit2gpu);
  if (previousFeasible) reference = Math.min(reference, makespanOf(problem, spec.previous));
  const start: FreshLayer = { unit2gpu: best.unit2gpu, makespan: reference };
  const limited = minimiseMoves(problem, spec, start, reference, options.timeLimitMs / 4, options);
  const target = reference * (1 + spec.makespanTolerance);
  const chosen =
    'unit2gpu' in limited
      ? limited
      : answer(spec, best.unit2gpu, {
          reference,
          target,
          status: 'heuristic',
          lowerBound: 0,
          engine: 'ilp',
          reason: limited.reason,
        });
  return {
    ...chosen,
    ...(best.makespanBound !== undefined ? { limitedMakespanBound: Math.min(best.makespanBound, reference) } : {}),
  };
}
