import type { GLPK, LP } from 'glpk.js/node';
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
     * The incumbent's move cost: only placements cheaper by at least `cutoffStep` are sought, so
     * "infeasible" proves the incumbent minimal (up to cutoffStep).
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

/**
 * GLPK on the aggregated migration model: integer n[class][gpu], where a class holds the units of
 * equal cost, move cost, KV group and current GPU, so the move cost of n[class][gpu] is known
 * without unit ids. Binary y[group][gpu] when a KV-group limit applies. Pinned units are fixed;
 * a pin away from a unit's current GPU is a forced move, counted against maxMoves.
 * GPU labels are not symmetric here (staying put is what is rewarded), so no ordering rows.
 */
export function solveMigrationIlp(glpk: GLPK, problem: LayerProblem, spec: MigrationSpec, objective: MigrationObjective, timeLimitMs: number): MigrationIlpOutcome {
  const gpus = problem.speeds.length;
  const pins = problem.unit2pin;
  const byKey = new Map<string, MoveClass>();
  const pinnedCost = new Array<number>(gpus).fill(0);
  const pinnedCount = new Array<number>(gpus).fill(0);
  const pinnedGroups = Array.from({ length: gpus }, () => new Set<number>());
  let forcedMoves = 0;
  problem.costs.forEach((cost, u) => {
    const group = problem.unit2group?.[u] ?? -1;
    const pin = pins?.[u] ?? -1;
    if (pin >= 0) {
      pinnedCost[pin] += cost;
      pinnedCount[pin] += 1;
      if (group >= 0) pinnedGroups[pin].add(group);
      if (pin !== spec.previous[u]) forcedMoves += 1;
      return;
    }
    const key = `${cost}|${spec.moveCosts[u]}|${group}|${spec.previous[u]}`;
    let cls = byKey.get(key);
    if (!cls) byKey.set(key, (cls = { cost, moveCost: spec.moveCosts[u], group, previous: spec.previous[u], units: [] }));
    cls.units.push(u);
  });
  const classes = [...byKey.values()];
  const moveBudget = spec.maxMoves !== undefined ? spec.maxMoves - forcedMoves : Infinity;
  if (moveBudget < 0) return { unit2gpu: null, proved: true, reason: `pins force ${forcedMoves} moves, more than maxMoves ${spec.maxMoves}` };

  const scale = Math.max(...problem.costs, Number.MIN_VALUE);
  const moveScale = Math.max(...classes.map((c) => c.moveCost * maxDistance(spec)), Number.MIN_VALUE);
  const n = (k: number, g: number) => `n_${k}_${g}`;
  const y = (group: number, g: number) => `y_${group}_${g}`;
  const subjectTo: LP['subjectTo'] = [];
  const bounds: NonNullable<LP['bounds']> = [];
  const generals: string[] = [];
  const binaries: string[] = [];
  const objectiveVars: { name: string; coef: number }[] = [];
  const movedVars: { name: string; coef: number }[] = [];
  classes.forEach((cls, k) => {
    const first = cls.units[0];
    for (let g = 0; g < gpus; g++) {
      generals.push(n(k, g));
      bounds.push({ name: n(k, g), type: glpk.GLP_DB, lb: 0, ub: cls.units.length });
      if (g === cls.previous) continue;
      movedVars.push({ name: n(k, g), coef: 1 });
      if (objective.kind === 'moves') objectiveVars.push({ name: n(k, g), coef: moveCostTo(spec, first, g) / moveScale });
    }
    subjectTo.push({ name: `class_${k}`, vars: range(gpus).map((g) => ({ name: n(k, g), coef: 1 })), bnds: { type: glpk.GLP_FX, lb: cls.units.length, ub: cls.units.length } });
  });
  for (let g = 0; g < gpus; g++) {
    const lo = Math.max(0, problem.minUnitsPerGpu - pinnedCount[g]);
    const hi = problem.maxUnitsPerGpu - pinnedCount[g];
    if (hi < lo || hi < 0) return { unit2gpu: null, proved: true, reason: `pins leave GPU ${g} no feasible unit count` };
    const vars = classes.map((_, k) => ({ name: n(k, g), coef: 1 }));
    if (vars.length > 0) subjectTo.push({ name: `count_${g}`, vars, bnds: lo === hi ? { type: glpk.GLP_FX, lb: lo, ub: hi } : { type: glpk.GLP_DB, lb: lo, ub: hi } });
    const loadVars = classes.map((cls, k) => ({ name: n(k, g), coef: cls.cost / scale }));
    if (objective.kind === 'moves') {
      const room = (objective.target * (1 + TARGET_SLACK) * problem.speeds[g] - pinnedCost[g]) / scale;
      if (loadVars.length > 0) subjectTo.push({ name: `load_${g}`, vars: loadVars, bnds: { type: glpk.GLP_UP, lb: 0, ub: room } });
    } else {
      subjectTo.push({ name: `load_${g}`, vars: [...loadVars, { name: 'C', coef: -problem.speeds[g] }], bnds: { type: glpk.GLP_UP, lb: 0, ub: -pinnedCost[g] / scale } });
    }
  }
  if (objective.kind === 'moves' && objective.cutoff && objectiveVars.length > 0) {
    const bound = (objective.cutoff.cost - objective.cutoff.step) / moveScale;
    if (bound < 0) return { unit2gpu: null, proved: true, reason: 'the incumbent moves nothing it could avoid' };
    subjectTo.push({ name: 'cutoff', vars: objectiveVars, bnds: { type: glpk.GLP_UP, lb: 0, ub: bound + 1e-9 } });
  }
  if (Number.isFinite(moveBudget) && movedVars.length > 0) {
    subjectTo.push({ name: 'max_moves', vars: movedVars, bnds: { type: glpk.GLP_UP, lb: 0, ub: moveBudget } });
  }
  if (problem.maxGroupsPerGpu !== undefined) {
    const groups = [...new Set(classes.map((c) => c.group))].sort((a, b) => a - b);
    for (let g = 0; g < gpus; g++) {
      const pinned = pinnedGroups[g];
      for (const group of groups) {
        binaries.push(y(group, g));
        // A row, not a bound: GLPK resets the bounds of binary columns to [0, 1].
        if (pinned.has(group)) subjectTo.push({ name: `pinned_${group}_${g}`, vars: [{ name: y(group, g), coef: 1 }], bnds: { type: glpk.GLP_FX, lb: 1, ub: 1 } });
        classes.forEach((cls, k) => {
          if (cls.group !== group) return;
          subjectTo.push({ name: `link_${k}_${g}`, vars: [{ name: n(k, g), coef: 1 }, { name: y(group, g), coef: -cls.units.length }], bnds: { type: glpk.GLP_UP, lb: 0, ub: 0 } });
        });
      }
      const pinnedOnly = [...pinned].filter((group) => !groups.includes(group)).length;
      subjectTo.push({ name: `groups_${g}`, vars: groups.map((group) => ({ name: y(group, g), coef: 1 })), bnds: { type: glpk.GLP_UP, lb: 0, ub: problem.maxGroupsPerGpu - pinnedOnly } });
    }
  }
  if (objective.kind === 'makespan') {
    bounds.push({ name: 'C', type: glpk.GLP_LO, lb: 0, ub: 0 });
    objectiveVars.push({ name: 'C', coef: 1 });
  }
  // GLPK wants at least one objective column; with nothing movable the objective is 0 anyway.
  if (objectiveVars.length === 0 && generals.length > 0) objectiveVars.push({ name: generals[0], coef: 0 });
  const lp: LP = { name: `migrate_${problem.layer}`, objective: { direction: glpk.GLP_MIN, name: objective.kind, vars: objectiveVars }, subjectTo, bounds, generals, binaries };

  let result;
  try {
    result = glpk.solve(lp, { msglev: glpk.GLP_MSG_OFF, tmlim: Math.max(0.001, (timeLimitMs - GLPK_OVERHEAD_MS) / 1000), presol: true, ...(objective.kind === 'makespan' ? { mipgap: MAKESPAN_MIPGAP } : {}) });
  } catch (error) {
    return { unit2gpu: null, proved: false, reason: `GLPK failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const status = result.result.status;
  if (status === glpk.GLP_NOFEAS) return { unit2gpu: null, proved: true, reason: 'GLPK proves no placement meets the limits' };
  if (status !== glpk.GLP_OPT && status !== glpk.GLP_FEAS) return { unit2gpu: null, proved: false, reason: 'GLPK stopped without a placement' };
  const unit2gpu = problem.costs.map((_, u) => pins?.[u] ?? -1);
  classes.forEach((cls, k) => {
    let next = 0;
    for (let g = 0; g < gpus; g++) {
      const count = Math.round(result.result.vars[n(k, g)] ?? 0);
      for (let i = 0; i < count; i++) unit2gpu[cls.units[next++]] = g;
    }
  });
  const broken = constraintViolation(problem, unit2gpu);
  if (broken !== null) return { unit2gpu: null, proved: false, reason: `GLPK answer breaks a constraint: ${broken}` };
  const proved = status === glpk.GLP_OPT;
  const makespanBound = objective.kind === 'makespan' && proved ? result.result.z * scale * (1 - MAKESPAN_MIPGAP) * GLPK_BOUND_FACTOR : undefined;
  return { unit2gpu, proved, ...(makespanBound !== undefined ? { makespanBound } : {}) };
}

function maxDistance(spec: MigrationSpec): number {
  if (!spec.gpuDistance) return 1;
  return Math.max(1, ...spec.gpuDistance.flat());
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
