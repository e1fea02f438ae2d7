import type { GLPK } from 'glpk.js/node';
import { GLPK_OVERHEAD_MS, ILP_PROOF_PRECISION } from '../engines/ilp.ts';
import { solveModel } from '../glpk-model.ts';
import { constraintViolation } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { buildMigrationModel, classify } from './migration-model.ts';
import type { MigrationSpec } from './types.ts';

/**
 * GLPK is asked for half the proof precision and its bound is lowered by twice its feasibility
 * tolerance (1e-7), as the placement ILP does, so a bound taken from it is a proof.
 */
const MAKESPAN_MIPGAP = ILP_PROOF_PRECISION / 2;
const GLPK_BOUND_FACTOR = 1 - 2e-7;

/**
 * What the migration model optimises.
 * moves: the least move cost with every load <= target (and at most maxMoves moves when given);
 * makespan: the least makespan with at most maxMoves moves.
 */
export type MigrationObjective =
  | {
      readonly kind: 'moves';
      readonly target: number;
      /**
       * The incumbent's move cost: only placements cheaper by at least `step` are sought, so
       * "infeasible" proves the incumbent minimal (up to the step).
       */
      readonly cutoff?: { readonly cost: number; readonly step: number };
    }
  | { readonly kind: 'makespan' };

export interface MigrationIlpOutcome {
  /** [units] placement found, or null when GLPK found none in time (or none exists). */
  readonly unit2gpu: number[] | null;
  /** true when GLPK proved the placement optimal for the objective (or proved none exists). */
  readonly proved: boolean;
  /** For the makespan objective with a proof: a valid lower bound on the makespan. */
  readonly makespanBound?: number;
  readonly reason?: string;
}

/**
 * GLPK on the aggregated migration model (migration-model.ts): KV copies priced and capped, a
 * mix's phases, a KV-group limit; a pin away from a unit's current GPU is a forced move, counted
 * against maxMoves. GPU labels are not symmetric here (staying put is what is rewarded), so no
 * ordering rows.
 */
export function solveMigrationIlp(
  glpk: GLPK,
  problem: LayerProblem,
  spec: MigrationSpec,
  objective: MigrationObjective,
  timeLimitMs: number,
): MigrationIlpOutcome {
  const layer = classify(problem, spec);
  const moveBudget = spec.maxMoves !== undefined ? spec.maxMoves - layer.forcedMoves : Infinity;
  if (moveBudget < 0) {
    return {
      unit2gpu: null,
      proved: true,
      reason: `pins force ${layer.forcedMoves} moves, more than maxMoves ${spec.maxMoves}`,
    };
  }
  const built = buildMigrationModel(glpk, problem, spec, layer, objective, moveBudget);
  if ('reason' in built) return { unit2gpu: null, proved: true, reason: built.reason };
  const answer = solveModel(glpk, built.model.build(), {
    timeLimitMs,
    overheadMs: GLPK_OVERHEAD_MS,
    ...(objective.kind === 'makespan' ? { mipgap: MAKESPAN_MIPGAP } : {}),
  });
  if (answer.status === 'failed') return { unit2gpu: null, proved: false, reason: answer.reason };
  if (answer.status === 'infeasible')
    return { unit2gpu: null, proved: true, reason: 'GLPK proves no placement meets the limits' };
  if (answer.status === 'stopped') return { unit2gpu: null, proved: false, reason: 'GLPK stopped without a placement' };
  const gpus = problem.speeds.length;
  const unit2gpu = problem.costs.map((_, u) => problem.unit2pin?.[u] ?? -1);
  layer.classes.forEach((cls, k) => {
    let next = 0;
    for (let g = 0; g < gpus; g++) {
      const count = Math.round(answer.vars[built.n(k, g)] ?? 0);
      for (let i = 0; i < count; i++) unit2gpu[cls.units[next++]] = g;
    }
  });
  const broken = constraintViolation(problem, unit2gpu);
  if (broken !== null) return { unit2gpu: null, proved: false, reason: `GLPK answer breaks a constraint: ${broken}` };
  const proved = answer.status === 'optimal';
  if (objective.kind !== 'makespan' || !proved) return { unit2gpu, proved };
  return { unit2gpu, proved, makespanBound: answer.z * built.scale * (1 - MAKESPAN_MIPGAP) * GLPK_BOUND_FACTOR };
}
