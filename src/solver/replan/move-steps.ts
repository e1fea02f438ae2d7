/**
 * The steps of a re-plan's stage 2 (replan-layer.ts): the incumbent from relabelling and repair,
 * the exact move search, GLPK's migration model, and the answer they make.
 */
import type { GLPK } from 'glpk.js/node';
import { aggregateLayer } from '../aggregate.ts';
import { constraintViolation, makespanOf } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { TARGET_SLACK, bestRelabelling, improveMoves, repairPrevious } from './greedy-replan.ts';
import { solveMigrationIlp } from './migration-ilp.ts';
import { searchFewestMoves } from './move-search.ts';
import { listMoves, movedUnitCount, totalMoveCost } from './moves.ts';
import type { LayerReplan, MigrationSpec, MoveStatus } from './types.ts';
import type { FreshLayer } from './replan-layer.ts';

/** What the steps of stage 2 know: the cheapest placement so far, its proof and the step that found it. */
export interface MoveState {
  best: number[] | null;
  engine: LayerReplan['moveEngine'];
  status: MoveStatus;
  lowerBound: number;
  reason?: string;
}

/**
 * The cheaper of two incumbents within the move limit: the fresh plan relabelled at best, and the
 * previous placement repaired. The local steps check each GPU's load against the target, which a
 * mix's objective (a sum of the phases' makespans) is not: a mix keeps the relabelled plan and
 * leaves the rest to GLPK.
 */
export function incumbent(
  problem: LayerProblem,
  spec: MigrationSpec,
  fresh: FreshLayer | null,
  target: number,
): number[] | null {
  const candidates: number[][] = [];
  const mix = problem.phases !== undefined;
  if (fresh) {
    const relabelled = bestRelabelling(problem, spec, fresh.unit2gpu);
    candidates.push(mix ? relabelled : improveMoves(problem, spec, relabelled, target));
  }
  const repaired = mix ? null : repairPrevious(problem, spec, target);
  if (repaired) candidates.push(improveMoves(problem, spec, repaired, target));
  return candidates
    .filter((c) => spec.maxMoves === undefined || movedUnitCount(spec, c) <= spec.maxMoves)
    .reduce<number[] | null>((a, b) => (a && totalMoveCost(spec, a) <= totalMoveCost(spec, b) ? a : b), null);
}

/** The exact move search (equal move costs): its answer when it proved its minimum, else null (state updated). */
export function moveSearchStep(
  problem: LayerProblem,
  spec: MigrationSpec,
  at: { reference: number; target: number; now: () => number; until: number },
  state: MoveState,
): LayerReplan | { reason: string } | null {
  const { best } = state;
  const fewerThan = Math.min(best ? movedUnitCount(spec, best) : Infinity, (spec.maxMoves ?? Infinity) + 1);
  const searched = searchFewestMoves(problem, spec, at.target, fewerThan, at.until, at.now);
  if (searched.unit2gpu && fitsTarget(problem, searched.unit2gpu, at.target)) {
    state.best = searched.unit2gpu;
    state.engine = 'search';
  }
  if (!searched.proved) return null;
  if (!state.best) return { reason: 'the move search proves no placement meets the target and the move limit' };
  const lowerBound = totalMoveCost(spec, state.best);
  return answer(spec, state.best, {
    reference: at.reference,
    target: at.target,
    status: 'optimal',
    lowerBound,
    engine: state.engine,
  });
}

/** GLPK on the migration model, cut off just below the incumbent's move cost. */
export function migrationIlpStep(
  glpk: GLPK,
  problem: LayerProblem,
  spec: MigrationSpec,
  at: { target: number; timeLimitMs: number },
  state: MoveState,
): void {
  const best = state.best;
  const cutoff = best
    ? { cost: totalMoveCost(spec, best), step: cutoffStep(spec, totalMoveCost(spec, best)) }
    : undefined;
  const objective = { kind: 'moves', target: at.target, ...(cutoff ? { cutoff } : {}) } as const;
  const ilp = solveMigrationIlp(glpk, problem, spec, objective, at.timeLimitMs);
  if (!ilp.unit2gpu && ilp.proved && cutoff) {
    // Nothing is cheaper than the incumbent by a step: it is minimal (up to the step; with
    // equal move costs the step is one move, so exactly).
    state.status = 'optimal';
    state.lowerBound = uniformMoveCost(spec) !== null ? cutoff.cost : Math.max(0, cutoff.cost - cutoff.step);
  } else if (ilp.unit2gpu && fitsTarget(problem, ilp.unit2gpu, at.target)) {
    const cost = totalMoveCost(spec, ilp.unit2gpu);
    if (!best || cost < totalMoveCost(spec, best)) {
      state.best = ilp.unit2gpu;
      state.engine = 'ilp';
    }
    state.status = ilp.proved ? 'optimal' : 'time_limit';
    if (ilp.proved) state.lowerBound = Math.min(cost, totalMoveCost(spec, state.best!));
  } else if (ilp.unit2gpu) {
    state.reason = 'GLPK answer exceeds the makespan target by more than rounding';
  } else {
    state.reason = best ? 'GLPK found nothing cheaper in time' : ilp.reason;
    if (!ilp.proved && best) state.status = 'time_limit';
  }
}

/** Whether the layer's units fall into at most half as many classes of equal cost (and group). */
export function costsRepeat(problem: LayerProblem): boolean {
  return aggregateLayer(problem).classes.length * 2 <= problem.costs.length;
}

/** The one cost every move has (equal move costs, no distances), else null. */
export function uniformMoveCost(spec: MigrationSpec): number | null {
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

export function fitsTarget(problem: LayerProblem, unit2gpu: readonly number[], target: number): boolean {
  return (
    constraintViolation(problem, unit2gpu) === null && makespanOf(problem, unit2gpu) <= target * (1 + TARGET_SLACK)
  );
}

export function answer(
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
