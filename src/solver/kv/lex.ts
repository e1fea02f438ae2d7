/**
 * The second, lexicographic objective: among placements whose objective is at most the best one
 * found (C), the fewest KV heads stored. One phase: "every load <= C with at most R - 1 copies?"
 * for R the stored count so far (kv/kv-decide.ts), until none exists (proven least) or time runs
 * out; a mix: GLPK on the KV model with the copies as objective and the mix's
 * objective <= C, cut off below R.
 */
import type { GLPK } from 'glpk.js/node';
import { aggregateLayer } from '../aggregate.ts';
import { GLPK_OVERHEAD_MS } from '../engines/ilp.ts';
import { solveModel } from '../glpk-model.ts';
import { constraintViolation, makespanOf } from '../layer-result.ts';
import type { LayerProblem, LayerStatus } from '../types.ts';
import { storedKvHeads } from './groups.ts';
import { createDecideMemo, kvDecide } from './kv-decide.ts';
import { kvModel } from './kv-ilp.ts';
import { minStoredKvHeads } from './min-stored.ts';

/** Relative margin on C in the second objective's ILP, far above GLPK's row tolerance. */
const ILP_MARGIN = 1e-6;

/** The placement kept for the second objective, with its proven bound and status. */
export interface FewestCopies {
  /** [units] GPU of each unit: objective <= C, KV heads stored as few as found. */
  readonly unit2gpu: number[];
  /** A valid lower bound on the KV heads stored by any placement with objective <= C. */
  readonly lowerBound: number;
  readonly status: LayerStatus;
}

/**
 * Lowers the KV heads stored by `best` without raising its objective C, until proven least or
 * `deadline`.
 * @param best [units] a feasible placement (its objective is C)
 */
export function fewestCopies(
  glpk: GLPK | null,
  problem: LayerProblem,
  best: readonly number[],
  deadline: number,
  now: () => number,
): FewestCopies {
  const target = makespanOf(problem, best);
  let unit2gpu = [...best];
  let stored = storedKvHeads(problem, unit2gpu) ?? 0;
  const floor = minStoredKvHeads(problem);
  const answer = (status: LayerStatus, lowerBound = floor): FewestCopies => ({
    unit2gpu,
    lowerBound: Math.min(lowerBound, stored),
    status,
  });
  // Within C means within C exactly: a placement over it by rounding does not count.
  const within = (placement: number[]) =>
    constraintViolation(problem, placement) === null && makespanOf(problem, placement) <= target;
  if (problem.phases) {
    if (stored <= floor) return answer('optimal');
    if (!glpk) return answer('heuristic');
    return fewestCopiesByIlp(glpk, problem, unit2gpu, stored, { target, floor, deadline, now, within });
  }
  const layer = aggregateLayer(problem);
  const limits = { deadline, now, memo: createDecideMemo() };
  while (stored > floor) {
    if (now() >= deadline) return answer('time_limit');
    const { decision } = kvDecide(glpk, problem, layer, target, { ...limits, storedLimit: stored - 1 });
    if (decision === 'timeout') return answer('time_limit');
    if (decision === null) return answer('optimal', stored);
    const fewer = storedKvHeads(problem, decision) ?? stored;
    // A placement let through by rounding, above C: no proof either way.
    if (!within(decision) || fewer >= stored) return answer('heuristic');
    unit2gpu = decision;
    stored = fewer;
  }
  return answer('optimal');
}

/**
 * GLPK asked for fewer copies than `startStored` with the objective at most C (1 + 1e-6): that
 * margin is far above GLPK's row tolerance (1e-7), so its "none" and its optimum hold for every
 * placement within C itself. A placement it finds above C (inside the margin) proves nothing.
 */
function fewestCopiesByIlp(
  glpk: GLPK,
  problem: LayerProblem,
  start: number[],
  startStored: number,
  limits: {
    target: number;
    floor: number;
    deadline: number;
    now: () => number;
    within: (placement: number[]) => boolean;
  },
): FewestCopies {
  const scale = Math.max(...problem.costs, ...(problem.groupCosts ?? []), Number.MIN_VALUE);
  const model = kvModel(glpk, problem, scale, {
    kind: 'stored',
    target: (limits.target * (1 + ILP_MARGIN)) / scale,
    fewerThan: startStored,
  });
  const result = solveModel(glpk, model.model.build(), {
    timeLimitMs: limits.deadline - limits.now(),
    overheadMs: GLPK_OVERHEAD_MS,
  });
  const keep = (unit2gpu: number[], stored: number, status: LayerStatus, lowerBound: number): FewestCopies => ({
    unit2gpu,
    lowerBound: Math.min(Math.max(lowerBound, limits.floor), stored),
    status,
  });
  if (result.status === 'infeasible') return keep(start, startStored, 'optimal', startStored);
  if (result.status !== 'optimal' && result.status !== 'feasible')
    return keep(start, startStored, 'time_limit', limits.floor);
  const found = model.decode(result.vars);
  const stored = storedKvHeads(problem, found) ?? startStored;
  if (!limits.within(found) || stored >= startStored) return keep(start, startStored, 'heuristic', limits.floor);
  return result.status === 'optimal'
    ? keep(found, stored, 'optimal', stored)
    : keep(found, stored, 'time_limit', limits.floor);
}
