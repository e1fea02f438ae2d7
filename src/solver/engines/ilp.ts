import type { GLPK, LP, Result } from 'glpk.js/node';
import { aggregateLayer, disaggregate, type AggregatedLayer } from '../aggregate.ts';
import { layerLowerBound } from '../bounds.ts';
import { buildLayerResult, constraintViolation, makespanOf, relativeGap, statusForGap } from '../layer-result.ts';
import type { LayerEngine, LayerProblem, LayerResult, SolveOptions } from '../types.ts';

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
 */
export function solveIlp(
  glpk: GLPK,
  problem: LayerProblem,
  options: SolveOptions,
  formulation: IlpFormulation = 'aggregated',
): IlpOutcome {
  const staticBound = layerLowerBound(problem);
  const incumbent = options.incumbent ? [...options.incumbent] : null;
  const upper = incumbent ? makespanOf(problem, incumbent) : Infinity;
  const precision = Math.max(options.gapTolerance, ILP_PROOF_PRECISION);
  // What GLPK is asked to prove; the rest of `precision` covers GLPK's own tolerances.
  const glpkGap = precision / 2;
  const layer = aggregateLayer(problem);
  const scale = Math.max(...problem.costs, Number.MIN_VALUE);
  const model =
    formulation === 'textbook' ? textbookModel(glpk, problem, scale) : aggregatedModel(glpk, problem, layer, scale);
  const cutoff = formulation === 'aggregated' && Number.isFinite(upper) ? (upper * (1 - glpkGap)) / scale : Infinity;
  const lowerScaled = staticBound / scale;
  model.lp.bounds!.push(
    Number.isFinite(cutoff)
      ? { name: 'C', type: glpk.GLP_DB, lb: Math.min(lowerScaled, cutoff), ub: cutoff }
      : { name: 'C', type: glpk.GLP_LO, lb: lowerScaled, ub: 0 },
  );

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

  let result: Result;
  try {
    result = glpk.solve(model.lp, {
      msglev: glpk.GLP_MSG_OFF,
      tmlim: Math.max(0.001, (options.timeLimitMs - GLPK_OVERHEAD_MS) / 1000),
      mipgap: glpkGap,
      presol: true,
    });
  } catch (error) {
    return keep('failed', staticBound, `GLPK failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const status = result.result.status;
  if (status === glpk.GLP_NOFEAS) {
    // Nothing at or below the cutoff: the incumbent is within `precision` of the optimum.
    return Number.isFinite(cutoff)
      ? keep('proved', Math.max(staticBound, cutoff * scale * GLPK_BOUND_FACTOR))
      : keep('failed', staticBound, 'GLPK reports the constraints infeasible');
  }
  if (status !== glpk.GLP_OPT && status !== glpk.GLP_FEAS)
    return keep('time_limit', staticBound, 'GLPK stopped without a placement');
  const found = model.decode(result.result.vars);
  if (constraintViolation(problem, found) !== null)
    return keep('failed', staticBound, `GLPK answer breaks a constraint: ${constraintViolation(problem, found)}`);
  const makespan = makespanOf(problem, found);
  const proved = status === glpk.GLP_OPT;
  // GLPK's OPT is optimal within mipgap of its best bound; the objective is C itself.
  const bound = proved
    ? Math.max(staticBound, result.result.z * scale * (1 - glpkGap) * GLPK_BOUND_FACTOR)
    : staticBound;
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

interface Model {
  readonly lp: LP;
  /** GLPK variable values -> [units] GPU of each unit. */
  decode(vars: Record<string, number>): number[];
}

function aggregatedModel(glpk: GLPK, problem: LayerProblem, layer: AggregatedLayer, scale: number): Model {
  const gpus = problem.speeds.length;
  const n = (k: number, g: number) => `n_${k}_${g}`;
  const y = (group: number, g: number) => `y_${group}_${g}`;
  const subjectTo: LP['subjectTo'] = [];
  const bounds: NonNullable<LP['bounds']> = [];
  const generals: string[] = [];
  const binaries: string[] = [];
  const costs = layer.classes.map((c) => c.cost / scale);
  layer.classes.forEach((cls, k) => {
    for (let g = 0; g < gpus; g++) {
      generals.push(n(k, g));
      bounds.push({ name: n(k, g), type: glpk.GLP_DB, lb: 0, ub: cls.units.length });
    }
    subjectTo.push({
      name: `class_${k}`,
      vars: range(gpus).map((g) => ({ name: n(k, g), coef: 1 })),
      bnds: { type: glpk.GLP_FX, lb: cls.units.length, ub: cls.units.length },
    });
  });
  for (let g = 0; g < gpus; g++) {
    const lo = Math.max(0, problem.minUnitsPerGpu - layer.pinnedCount[g]);
    const hi = problem.maxUnitsPerGpu - layer.pinnedCount[g];
    const vars = layer.classes.map((_, k) => ({ name: n(k, g), coef: 1 }));
    subjectTo.push({
      name: `count_${g}`,
      vars,
      bnds: lo === hi ? { type: glpk.GLP_FX, lb: lo, ub: hi } : { type: glpk.GLP_DB, lb: lo, ub: hi },
    });
    subjectTo.push({
      name: `load_${g}`,
      vars: [
        ...layer.classes.map((_, k) => ({ name: n(k, g), coef: costs[k] })),
        { name: 'C', coef: -problem.speeds[g] },
      ],
      bnds: { type: glpk.GLP_UP, lb: 0, ub: -layer.pinnedCost[g] / scale },
    });
  }
  // Identical GPUs are interchangeable: order their loads.
  for (let g = 0; g + 1 < gpus; g++) {
    const h = g + 1;
    const same =
      problem.speeds[g] === problem.speeds[h] &&
      layer.pinnedCost[g] === layer.pinnedCost[h] &&
      layer.pinnedCount[g] === layer.pinnedCount[h] &&
      layer.pinnedGroups[g].join() === layer.pinnedGroups[h].join();
    if (!same) continue;
    subjectTo.push({
      name: `order_${g}`,
      vars: layer.classes.flatMap((_, k) => [
        { name: n(k, g), coef: costs[k] },
        { name: n(k, h), coef: -costs[k] },
      ]),
      bnds: { type: glpk.GLP_LO, lb: 0, ub: 0 },
    });
  }
  if (problem.maxGroupsPerGpu !== undefined) {
    const groups = [...new Set(layer.classes.map((c) => c.group))].sort((a, b) => a - b);
    for (let g = 0; g < gpus; g++) {
      const pinned = new Set(layer.pinnedGroups[g]);
      for (const group of groups) {
        binaries.push(y(group, g));
        // A row, not a bound: GLPK resets the bounds of binary columns to [0, 1].
        if (pinned.has(group))
          subjectTo.push({
            name: `pinned_${group}_${g}`,
            vars: [{ name: y(group, g), coef: 1 }],
            bnds: { type: glpk.GLP_FX, lb: 1, ub: 1 },
          });
        layer.classes.forEach((cls, k) => {
          if (cls.group !== group) return;
          subjectTo.push({
            name: `link_${k}_${g}`,
            vars: [
              { name: n(k, g), coef: 1 },
              { name: y(group, g), coef: -cls.units.length },
            ],
            bnds: { type: glpk.GLP_UP, lb: 0, ub: 0 },
          });
        });
      }
      const pinnedOnly = [...pinned].filter((group) => !groups.includes(group)).length;
      subjectTo.push({
        name: `groups_${g}`,
        vars: groups.map((group) => ({ name: y(group, g), coef: 1 })),
        bnds: { type: glpk.GLP_UP, lb: 0, ub: problem.maxGroupsPerGpu - pinnedOnly },
      });
    }
  }
  const lp: LP = {
    name: `layer_${problem.layer}`,
    objective: { direction: glpk.GLP_MIN, name: 'makespan', vars: [{ name: 'C', coef: 1 }] },
    subjectTo,
    bounds,
    generals,
    binaries,
  };
  return {
    lp,
    decode: (vars) =>
      disaggregate(
        problem,
        layer,
        range(gpus).map((g) => layer.classes.map((_, k) => Math.round(vars[n(k, g)] ?? 0))),
      ),
  };
}

function textbookModel(glpk: GLPK, problem: LayerProblem, scale: number): Model {
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  const x = (u: number, g: number) => `x_${u}_${g}`;
  const subjectTo: LP['subjectTo'] = [];
  const bounds: NonNullable<LP['bounds']> = [];
  const binaries: string[] = [];
  for (let u = 0; u < units; u++) {
    const pin = problem.unit2pin?.[u] ?? -1;
    for (let g = 0; g < gpus; g++) binaries.push(x(u, g));
    // A row, not a bound: GLPK resets the bounds of binary columns to [0, 1].
    if (pin >= 0)
      subjectTo.push({
        name: `pin_${u}`,
        vars: [{ name: x(u, pin), coef: 1 }],
        bnds: { type: glpk.GLP_FX, lb: 1, ub: 1 },
      });
    subjectTo.push({
      name: `unit_${u}`,
      vars: range(gpus).map((g) => ({ name: x(u, g), coef: 1 })),
      bnds: { type: glpk.GLP_FX, lb: 1, ub: 1 },
    });
  }
  for (let g = 0; g < gpus; g++) {
    const lo = problem.minUnitsPerGpu;
    const hi = problem.maxUnitsPerGpu;
    subjectTo.push({
      name: `count_${g}`,
      vars: range(units).map((u) => ({ name: x(u, g), coef: 1 })),
      bnds: lo === hi ? { type: glpk.GLP_FX, lb: lo, ub: hi } : { type: glpk.GLP_DB, lb: lo, ub: hi },
    });
    subjectTo.push({
      name: `load_${g}`,
      vars: [
        ...range(units).map((u) => ({ name: x(u, g), coef: problem.costs[u] / scale })),
        { name: 'C', coef: -problem.speeds[g] },
      ],
      bnds: { type: glpk.GLP_UP, lb: 0, ub: 0 },
    });
  }
  if (problem.maxGroupsPerGpu !== undefined && problem.unit2group) {
    const unit2group = problem.unit2group;
    const groups = [...new Set(unit2group)];
    for (let g = 0; g < gpus; g++) {
      for (const group of groups) {
        binaries.push(`y_${group}_${g}`);
        for (let u = 0; u < units; u++) {
          if (unit2group[u] === group)
            subjectTo.push({
              name: `link_${u}_${g}`,
              vars: [
                { name: x(u, g), coef: 1 },
                { name: `y_${group}_${g}`, coef: -1 },
              ],
              bnds: { type: glpk.GLP_UP, lb: 0, ub: 0 },
            });
        }
      }
      subjectTo.push({
        name: `groups_${g}`,
        vars: groups.map((group) => ({ name: `y_${group}_${g}`, coef: 1 })),
        bnds: { type: glpk.GLP_UP, lb: 0, ub: problem.maxGroupsPerGpu },
      });
    }
  }
  const lp: LP = {
    name: `layer_${problem.layer}_textbook`,
    objective: { direction: glpk.GLP_MIN, name: 'makespan', vars: [{ name: 'C', coef: 1 }] },
    subjectTo,
    bounds,
    binaries,
  };
  return {
    lp,
    decode: (vars) =>
      range(units).map((u) => {
        for (let g = 0; g < gpus; g++) if ((vars[x(u, g)] ?? 0) > 0.5) return g;
        return -1;
      }),
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
