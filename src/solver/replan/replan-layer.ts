import type { GLPK } from 'glpk.js/node';
import { HplbError } from '../../errors.ts';
import { aggregateLayer } from '../aggregate.ts';
import { kvFeatured } from '../kv/groups.ts';
import { constraintViolation, makespanOf } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { TARGET_SLACK, bestRelabelling, improveMoves, repairPrevious } from './greedy-replan.ts';
import { solveMigrationIlp } from './migration-ilp.ts';
import { searchFewestMoves } from './move-search.ts';
import { listMoves, movedUnitCount, totalMoveCost } from './moves.ts';
import type { LayerReplan, MigrationSpec, MoveStatus } from './types.ts';

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
  const previousOk = fitsTarget(problem, spec.previous, target);
  if (previousOk)
    return answer(spec, [...spec.previous], {
      reference,
      target,
      status: 'optimal',
      lowerBound: 0,
      engine: 'previous',
    });

  // Two incumbents: the fresh plan relabelled at best, and the previous placement repaired. The
  // local steps check each GPU's load against the target, which a mix's objective (a sum of the
  // phases' makespans) is not: a mix keeps the relabelled plan and leaves the rest to GLPK.
  const candidates: number[][] = [];
  const mix = problem.phases !== undefined;
  if (fresh) {
    const relabelled = bestRelabelling(problem, spec, fresh.unit2gpu);
    candidates.push(mix ? relabelled : improveMoves(problem, spec, relabelled, target));
  }
  const repaired = mix ? null : repairPrevious(problem, spec, target);
  if (repaired) candidates.push(improveMoves(problem, spec, repaired, target));
  let best: number[] | null = candidates
    .filter((c) => spec.maxMoves === undefined || movedUnitCount(spec, c) <= spec.maxMoves)
    .reduce<number[] | null>((a, b) => (a && totalMoveCost(spec, a) <= totalMoveCost(spec, b) ? a : b), null);
  let engine: LayerReplan['moveEngine'] = 'greedy';
  let status: MoveStatus = 'heuristic';
  let lowerBound = 0;
  let reason: string | undefined = glpk ? undefined : 'no GLPK instance: relabelling and swaps only';
  const uniform = uniformMoveCost(spec);
  if (glpk && uniform !== null && costsRepeat(problem) && !kvFeatured(problem)) {
    // Equal move costs and repeated unit costs: the exact move search over configurations, which
    // often proves at once. With all-distinct costs its configurations explode: GLPK gets the time.
    // It does not price KV copies or a mix's phases: such layers go to GLPK's migration model.
    const fewerThan = Math.min(best ? movedUnitCount(spec, best) : Infinity, (spec.maxMoves ?? Infinity) + 1);
    const searched = searchFewestMoves(problem, spec, target, fewerThan, now() + timeLimitMs * SEARCH_SHARE, now);
    if (searched.unit2gpu && fitsTarget(problem, searched.unit2gpu, target)) {
      best = searched.unit2gpu;
      engine = 'search';
    }
    if (searched.proved) {
      if (!best) return { reason: 'the move search proves no placement meets the target and the move limit' };
      const meta = { reference, target, status: 'optimal', lowerBound: totalMoveCost(spec, best), engine } as const;
      return answer(spec, best, meta);
    }
  }
  if (glpk) {
    const cutoff = best
      ? { cost: totalMoveCost(spec, best), step: cutoffStep(spec, totalMoveCost(spec, best)) }
      : undefined;
    const ilp = solveMigrationIlp(
      glpk,
      problem,
      spec,
      { kind: 'moves', target, ...(cutoff ? { cutoff } : {}) },
      Math.max(1, deadline - now()),
    );
    if (!ilp.unit2gpu && ilp.proved && cutoff) {
      // Nothing is cheaper than the incumbent by a step: it is minimal (up to the step; with
      // equal move costs the step is one move, so exactly).
      status = 'optimal';
      lowerBound = uniformMoveCost(spec) !== null ? cutoff.cost : Math.max(0, cutoff.cost - cutoff.step);
    } else if (ilp.unit2gpu && fitsTarget(problem, ilp.unit2gpu, target)) {
      const cost = totalMoveCost(spec, ilp.unit2gpu);
      if (!best || cost < totalMoveCost(spec, best)) {
        best = ilp.unit2gpu;
        engine = 'ilp';
      }
      if (ilp.proved) {
        status = 'optimal';
        lowerBound = Math.min(cost, totalMoveCost(spec, best));
      } else {
        status = 'time_limit';
      }
    } else if (ilp.unit2gpu) {
      reason = 'GLPK answer exceeds the makespan target by more than rounding';
    } else {
      reason = best ? 'GLPK found nothing cheaper in time' : ilp.reason;
      if (!ilp.proved && best) status = 'time_limit';
    }
  }
  if (!best) return { reason: reason ?? 'no placement found' };
  return answer(spec, best, {
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

/** Whether the layer's units fall into at most half as many classes of equal cost (and group). */
function costsRepeat(problem: LayerProblem): boolean {
  return aggregateLayer(problem).classes.length * 2 <= problem.costs.length;
}

/** The one cost every move has (equal move costs, no distances), else null. */
function uniformMoveCost(spec: MigrationSpec): number | null {
  if (spec.gpuDistance) return null;
  const first = spec.moveCosts[0];
  return first > 0 && spec.moveCosts.every((c) => c === first) ? first : null;
}

/**
 * How much cheaper a placement must be to count as better: with equal move costs every total is a
 * multiple of the cost, so one cost; otherwise a relative 1e-6 (the proof is that fine).
 */
function cutoffStep(spec: MigrationSpec, incumbentCost: number): number {
  return uniformMoveCost(spec) ?? 1e-6 * incumbentCost;
}

function fitsTarget(problem: LayerProblem, unit2gpu: readonly number[], target: number): boolean {
  return (
    constraintViolation(problem, unit2gpu) === null && makespanOf(problem, unit2gpu) <= target * (1 + TARGET_SLACK)
  );
}

function answer(
  spec: MigrationSpec,
  unit2gpu: number[],
  meta: {
    reference: number;
    target: number;
    status: MoveStatus;
    lowerBound: number;
    engine: LayerReplan['moveEngine'];
    reason?: string;
  },
): LayerReplan {
  const moves = listMoves(spec, unit2gpu);
  const moveCost = moves.reduce((s, m) => s + m.cost, 0);
  return {
    unit2gpu,
    moves,
    movedUnits: moves.length,
    moveCost,
    referenceMakespan: meta.reference,
    targetMakespan: meta.target,
    moveStatus: meta.status,
    moveLowerBound: Math.min(meta.lowerBound, moveCost),
    moveEngine: meta.engine,
    ...(meta.reason !== undefined ? { moveFallbackReason: meta.reason } : {}),
  };
}
