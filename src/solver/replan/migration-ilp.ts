import type { GLPK, LP, Result } from 'glpk.js/node';
import { GLPK_OVERHEAD_MS, ILP_PROOF_PRECISION } from '../engines/ilp.ts';
import { constraintViolation } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { TARGET_SLACK } from './greedy-replan.ts';
import { moveCostTo } from './moves.ts';
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

/** Units that are interchangeable for both objectives: same cost, move cost, KV group and current GPU. */
interface MoveClass {
  readonly cost: number;
  readonly moveCost: number;
  readonly group: number;
  readonly previous: number;
  readonly units: number[];
}

/** A layer's free units in classes, and what pinned units already hold on each GPU. */
interface ClassedLayer {
  readonly classes: MoveClass[];
  /** [gpus] pinned cost, unit count and KV groups. */
  readonly pinnedCost: number[];
  readonly pinnedCount: number[];
  readonly pinnedGroups: Set<number>[];
  /** Pinned units away from their current GPU: moves nothing can avoid. */
  readonly forcedMoves: number;
}

type Rows = LP['subjectTo'];
type Term = { name: string; coef: number };

/**
 * GLPK on the aggregated migration model: integer n[class][gpu], where a class holds the units of
 * equal cost, move cost, KV group and current GPU, so the move cost of n[class][gpu] is known
 * without unit ids. Binary y[group][gpu] when a KV-group limit applies. Pinned units are fixed;
 * a pin away from a unit's current GPU is a forced move, counted against maxMoves.
 * GPU labels are not symmetric here (staying put is what is rewarded), so no ordering rows.
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
  const model = buildModel(glpk, problem, spec, layer, objective, moveBudget);
  if ('reason' in model) return { unit2gpu: null, proved: true, reason: model.reason };

  let result: Result;
  try {
    const tmlim = Math.max(0.001, (timeLimitMs - GLPK_OVERHEAD_MS) / 1000);
    const mipgap = objective.kind === 'makespan' ? { mipgap: MAKESPAN_MIPGAP } : {};
    result = glpk.solve(model.lp, { msglev: glpk.GLP_MSG_OFF, tmlim, presol: true, ...mipgap });
  } catch (error) {
    return {
      unit2gpu: null,
      proved: false,
      reason: `GLPK failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const status = result.result.status;
  if (status === glpk.GLP_NOFEAS)
    return { unit2gpu: null, proved: true, reason: 'GLPK proves no placement meets the limits' };
  if (status !== glpk.GLP_OPT && status !== glpk.GLP_FEAS) {
    return { unit2gpu: null, proved: false, reason: 'GLPK stopped without a placement' };
  }
  const gpus = problem.speeds.length;
  const unit2gpu = problem.costs.map((_, u) => problem.unit2pin?.[u] ?? -1);
  layer.classes.forEach((cls, k) => {
    let next = 0;
    for (let g = 0; g < gpus; g++) {
      const count = Math.round(result.result.vars[model.n(k, g)] ?? 0);
      for (let i = 0; i < count; i++) unit2gpu[cls.units[next++]] = g;
    }
  });
  const broken = constraintViolation(problem, unit2gpu);
  if (broken !== null) return { unit2gpu: null, proved: false, reason: `GLPK answer breaks a constraint: ${broken}` };
  const proved = status === glpk.GLP_OPT;
  if (objective.kind !== 'makespan' || !proved) return { unit2gpu, proved };
  return { unit2gpu, proved, makespanBound: result.result.z * model.scale * (1 - MAKESPAN_MIPGAP) * GLPK_BOUND_FACTOR };
}

function classify(problem: LayerProblem, spec: MigrationSpec): ClassedLayer {
  const gpus = problem.speeds.length;
  const byKey = new Map<string, MoveClass>();
  const pinnedCost = new Array<number>(gpus).fill(0);
  const pinnedCount = new Array<number>(gpus).fill(0);
  const pinnedGroups = Array.from({ length: gpus }, () => new Set<number>());
  let forcedMoves = 0;
  problem.costs.forEach((cost, u) => {
    const group = problem.unit2group?.[u] ?? -1;
    const pin = problem.unit2pin?.[u] ?? -1;
    const previous = spec.previous[u];
    if (pin >= 0) {
      pinnedCost[pin] += cost;
      pinnedCount[pin] += 1;
      if (group >= 0) pinnedGroups[pin].add(group);
      if (pin !== previous) forcedMoves += 1;
      return;
    }
    const key = `${cost}|${spec.moveCosts[u]}|${group}|${previous}`;
    let cls = byKey.get(key);
    if (!cls) {
      cls = { cost, moveCost: spec.moveCosts[u], group, previous, units: [] };
      byKey.set(key, cls);
    }
    cls.units.push(u);
  });
  return { classes: [...byKey.values()], pinnedCost, pinnedCount, pinnedGroups, forcedMoves };
}

function buildModel(
  glpk: GLPK,
  problem: LayerProblem,
  spec: MigrationSpec,
  layer: ClassedLayer,
  objective: MigrationObjective,
  moveBudget: number,
): { lp: LP; scale: number; n: (k: number, g: number) => string } | { reason: string } {
  const gpus = problem.speeds.length;
  const { classes, pinnedCost, pinnedCount, pinnedGroups } = layer;
  const scale = Math.max(...problem.costs, Number.MIN_VALUE);
  const moveScale = Math.max(...classes.map((c) => c.moveCost * maxDistance(spec)), Number.MIN_VALUE);
  const n = (k: number, g: number) => `n_${k}_${g}`;
  const y = (group: number, g: number) => `y_${group}_${g}`;
  const subjectTo: Rows = [];
  const row = (name: string, vars: Term[], lb: number, ub: number) => {
    const type = lb === ub ? glpk.GLP_FX : lb === -Infinity ? glpk.GLP_UP : glpk.GLP_DB;
    subjectTo.push({ name, vars, bnds: { type, lb: Number.isFinite(lb) ? lb : 0, ub } });
  };
  const bounds: NonNullable<LP['bounds']> = [];
  const generals: string[] = [];
  const binaries: string[] = [];
  const objectiveVars: Term[] = [];
  const movedVars: Term[] = [];
  classes.forEach((cls, k) => {
    for (let g = 0; g < gpus; g++) {
      generals.push(n(k, g));
      bounds.push({ name: n(k, g), type: glpk.GLP_DB, lb: 0, ub: cls.units.length });
      if (g === cls.previous) continue;
      movedVars.push({ name: n(k, g), coef: 1 });
      if (objective.kind === 'moves')
        objectiveVars.push({ name: n(k, g), coef: moveCostTo(spec, cls.units[0], g) / moveScale });
    }
    row(
      `class_${k}`,
      range(gpus).map((g) => ({ name: n(k, g), coef: 1 })),
      cls.units.length,
      cls.units.length,
    );
  });
  for (let g = 0; g < gpus; g++) {
    const lo = Math.max(0, problem.minUnitsPerGpu - pinnedCount[g]);
    const hi = problem.maxUnitsPerGpu - pinnedCount[g];
    if (hi < lo) return { reason: `pins leave GPU ${g} no feasible unit count` };
    if (classes.length === 0) continue;
    row(
      `count_${g}`,
      classes.map((_, k) => ({ name: n(k, g), coef: 1 })),
      lo,
      hi,
    );
    const load = classes.map((cls, k) => ({ name: n(k, g), coef: cls.cost / scale }));
    if (objective.kind === 'moves') {
      row(
        `load_${g}`,
        load,
        -Infinity,
        (objective.target * (1 + TARGET_SLACK) * problem.speeds[g] - pinnedCost[g]) / scale,
      );
    } else {
      row(`load_${g}`, [...load, { name: 'C', coef: -problem.speeds[g] }], -Infinity, -pinnedCost[g] / scale);
    }
  }
  if (objective.kind === 'moves' && objective.cutoff && objectiveVars.length > 0) {
    const bound = (objective.cutoff.cost - objective.cutoff.step) / moveScale;
    if (bound < 0) return { reason: 'the incumbent moves nothing it could avoid' };
    row('cutoff', objectiveVars, -Infinity, bound + 1e-9);
  }
  if (Number.isFinite(moveBudget) && movedVars.length > 0) row('max_moves', movedVars, -Infinity, moveBudget);
  if (problem.maxGroupsPerGpu !== undefined) {
    const groups = [...new Set(classes.map((c) => c.group))].sort((a, b) => a - b);
    for (let g = 0; g < gpus; g++) {
      const pinned = pinnedGroups[g];
      for (const group of groups) {
        binaries.push(y(group, g));
        // A row, not a bound: GLPK resets the bounds of binary columns to [0, 1].
        if (pinned.has(group)) row(`pinned_${group}_${g}`, [{ name: y(group, g), coef: 1 }], 1, 1);
        classes.forEach((cls, k) => {
          if (cls.group !== group) return;
          row(
            `link_${k}_${g}`,
            [
              { name: n(k, g), coef: 1 },
              { name: y(group, g), coef: -cls.units.length },
            ],
            -Infinity,
            0,
          );
        });
      }
      const pinnedOnly = [...pinned].filter((group) => !groups.includes(group)).length;
      row(
        `groups_${g}`,
        groups.map((group) => ({ name: y(group, g), coef: 1 })),
        -Infinity,
        problem.maxGroupsPerGpu - pinnedOnly,
      );
    }
  }
  if (objective.kind === 'makespan') {
    bounds.push({ name: 'C', type: glpk.GLP_LO, lb: 0, ub: 0 });
    objectiveVars.push({ name: 'C', coef: 1 });
  }
  // GLPK wants at least one objective column; with nothing movable the objective is 0 anyway.
  if (objectiveVars.length === 0 && generals.length > 0) objectiveVars.push({ name: generals[0], coef: 0 });
  const lp: LP = {
    name: `migrate_${problem.layer}`,
    objective: { direction: glpk.GLP_MIN, name: objective.kind, vars: objectiveVars },
    subjectTo,
    bounds,
    generals,
    binaries,
  };
  return { lp, scale, n };
}

function maxDistance(spec: MigrationSpec): number {
  if (!spec.gpuDistance) return 1;
  let max = 1;
  for (const row of spec.gpuDistance) for (const d of row) max = Math.max(max, d);
  return max;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
