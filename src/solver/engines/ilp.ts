import type { GLPK } from 'glpk.js/node';
import { aggregateLayer } from '../aggregate.ts';
import { layerLowerBound } from '../bounds.ts';
import { solveModel } from '../glpk-model.ts';
import { kvFeatured } from '../kv/groups.ts';
import { kvModel } from '../kv/kv-ilp.ts';
import { buildLayerResult, constraintViolation, makespanOf, relativeGap, statusForGap } from '../layer-result.ts';
import type { LayerEngine, LayerProblem, LayerResult, SolveOptions } from '../types.ts';
import { type PlacementModel, aggregatedModel, textbookModel } from './ilp-models.ts';

/**
 * GLPK's own tolerances are about 1e-7 on rows; a proof from GLPK is trusted only to this relative
 * precision, so an ILP answer is at best `within_tolerance`, never a bare `optimal` by rounding.
 */
export const ILP_PROOF_PRECISION = 1e-6;

/**
 * GLPK's primal feasibility tolerance (tol_bnd, relative): its "infeasible below C" and its best
 * bound may be off by about this much. Every bound taken from GLPK is lowered by twice it, and
 * GLPK is asked for half the proof precision, so (1 - p / 2) * (1 - 2e-7) still proves p >= 1e-6.
 */
const GLPK_FEASIBILITY_TOLERANCE = 1e-7;
export const GLPK_BOUND_FACTOR = 1 - 2 * GLPK_FEASIBILITY_TOLERANCE;

/**
 * GLPK checks its clock between steps and spends time building the model: measured overruns of
 * 20-50 ms on 64-unit layers. Its time limit is the layer's minus this margin.
 */
export const GLPK_OVERHEAD_MS = 25;

export type IlpFormulation = 'aggregated' | 'textbook';

/** What one GLPK run established. */
export interface IlpOutcome {
  /** [units] best placement known (the incumbent when GLPK found nothing better). */
  readonly unit2gpu: number[];
  readonly makespan: number;
  /** Valid lower bound (static bounds, raised by GLPK's proofs). */
  readonly lowerBound: number;
  /** 'proved' (optimal or infeasible below the cutoff), 'time_limit', or 'failed' with a reason. */
  readonly outcome: 'proved' | 'time_limit' | 'failed';
  readonly reason?: string;
}

/**
 * Solves one layer with GLPK.
 * - aggregated (default): integer n[class][gpu] counts of identical units (same cost, and same KV
 *   group when a KV-group limit applies), binary y[group][gpu] for KV groups present, makespan C;
 *   identical GPUs (same speed and same pinned load) are ordered by load to remove their
 *   symmetry; C is cut off below the incumbent's makespan by the gap tolerance, so "infeasible"
 *   proves the incumbent good enough.
 * - textbook: binary x[unit][gpu] and C, nothing else: the baseline the benchmark compares with.
 * Layers whose KV copies cost something or are capped, and mixes, get the KV model
 * (kv/kv-ilp.ts) whichever formulation is asked for: the others do not price copies.
 */
export function solveIlp(
  glpk: GLPK,
  problem: LayerProblem,
  options: SolveOptions,
  formulation: IlpFormulation = 'aggregated',
): IlpOutcome {
  const kv = kvFeatured(problem);
  // The KV model starts C at the best bound known (a search's proofs included).
  const staticBound = kv ? Math.max(layerLowerBound(problem), options.lowerBound ?? 0) : layerLowerBound(problem);
  const incumbent = options.incumbent ? [...options.incumbent] : null;
  const upper = incumbent ? makespanOf(problem, incumbent) : Infinity;
  const precision = Math.max(options.gapTolerance, ILP_PROOF_PRECISION);
  // What GLPK is asked to prove; the rest of `precision` covers GLPK's own tolerances.
  const glpkGap = precision / 2;
  const scale = Math.max(...problem.costs, ...(problem.groupCosts ?? []), Number.MIN_VALUE);
  const cutoff =
    (formulation === 'aggregated' || kv) && Number.isFinite(upper) ? (upper * (1 - glpkGap)) / scale : Infinity;
  const range = { lower: staticBound / scale, cutoff };
  const model: PlacementModel = kv
    ? kvModel(glpk, problem, scale, { kind: 'makespan', range })
    : formulation === 'textbook'
      ? textbookModel(glpk, problem, scale, range)
      : aggregatedModel(glpk, problem, aggregateLayer(problem), scale, range);

  const keep = (outcome: IlpOutcome['outcome'], lowerBound: number, reason?: string): IlpOutcome => {
    if (!incumbent)
      return {
        unit2gpu: [],
        makespan: Infinity,
        lowerBound,
        outcome: 'failed',
        reason: reason ?? 'GLPK found no placement and there was no incumbent',
      };
    return {
      unit2gpu: incumbent,
      makespan: upper,
      lowerBound: Math.min(lowerBound, upper),
      outcome,
      ...(reason ? { reason } : {}),
    };
  };

  const answer = solveModel(glpk, model.model.build(), {
    timeLimitMs: options.timeLimitMs,
    overheadMs: GLPK_OVERHEAD_MS,
    mipgap: glpkGap,
  });
  if (answer.status === 'failed') return keep('failed', staticBound, answer.reason);
  if (answer.status === 'infeasible') {
    // Nothing at or below the cutoff: the incumbent is within `precision` of the optimum.
    return Number.isFinite(cutoff)
      ? keep('proved', Math.max(staticBound, cutoff * scale * GLPK_BOUND_FACTOR))
      : keep('failed', staticBound, 'GLPK reports the constraints infeasible');
  }
  if (answer.status === 'stopped') return keep('time_limit', staticBound, 'GLPK stopped without a placement');
  const found = model.decode(answer.vars);
  const broken = constraintViolation(problem, found);
  if (broken !== null) return keep('failed', staticBound, `GLPK answer breaks a constraint: ${broken}`);
  const makespan = makespanOf(problem, found);
  const proved = answer.status === 'optimal';
  // GLPK's OPT is optimal within mipgap of its best bound; the objective is the makespan itself.
  const bound = proved ? Math.max(staticBound, answer.z * scale * (1 - glpkGap) * GLPK_BOUND_FACTOR) : staticBound;
  if (makespan < upper)
    return {
      unit2gpu: found,
      makespan,
      lowerBound: Math.min(bound, makespan),
      outcome: proved ? 'proved' : 'time_limit',
    };
  return keep(proved ? 'proved' : 'time_limit', bound);
}

/** Builds an ILP engine on a loaded GLPK instance. */
export function createIlpEngine(glpk: GLPK, formulation: IlpFormulation = 'aggregated'): LayerEngine {
  const name = formulation === 'textbook' ? 'ilp-textbook' : 'ilp';
  return {
    name,
    solveLayer(problem: LayerProblem, options: SolveOptions): LayerResult {
      const now = options.now ?? performance.now.bind(performance);
      const start = now();
      const outcome = solveIlp(glpk, problem, options, formulation);
      if (outcome.outcome === 'failed' && outcome.unit2gpu.length === 0) throw new Error(outcome.reason);
      const gap = relativeGap(outcome.makespan, outcome.lowerBound);
      const status =
        outcome.outcome === 'failed' ? 'greedy_fallback' : statusForGap(gap, options.gapTolerance, 'time_limit');
      return buildLayerResult(problem, outcome.unit2gpu, {
        lowerBound: outcome.lowerBound,
        status,
        engine: name,
        solveMs: now() - start,
        ...(outcome.outcome === 'failed' ? { fallbackReason: outcome.reason } : {}),
      });
    },
  };
}
