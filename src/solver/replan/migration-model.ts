/**
 * The aggregated migration model (migration-ilp.ts runs it): integer n[class][gpu], where a class
 * holds the units of equal cost (in every phase), move cost, KV group and current GPU, so the move
 * cost of n[class][gpu] is known without unit ids. Binary y[group][gpu] "GPU stores the group"
 * under a KV-group limit, and wherever copies cost something or are capped: then each copy's
 * group cost is in the load rows and the copies are within the cap. A mix has one makespan
 * variable per phase, its objective their weighted sum. Pinned units are fixed.
 */
import type { GLPK } from 'glpk.js/node';
import { unitRange } from '../aggregate.ts';
import { createGlpkModel, type GlpkModel, type Term } from '../glpk-model.ts';
import { groupsMatter } from '../kv/groups.ts';
import type { LayerProblem } from '../types.ts';
import { TARGET_SLACK } from './greedy-replan.ts';
import { moveCostTo } from './moves.ts';
import type { MigrationSpec } from './types.ts';
import type { MigrationObjective } from './migration-ilp.ts';

/** Units that are interchangeable for both objectives: same costs, move cost, KV group and current GPU. */
interface MoveClass {
  /** [phases] cost in each phase (one phase: the cost). */
  readonly costs: readonly number[];
  readonly moveCost: number;
  readonly group: number;
  readonly previous: number;
  readonly units: number[];
}

/** A layer's free units in classes, and what pinned units already hold on each GPU. */
export interface ClassedLayer {
  readonly classes: MoveClass[];
  /** [phases][gpus] pinned units' cost; [gpus] their count and KV groups. */
  readonly pinnedCost: number[][];
  readonly pinnedCount: number[];
  readonly pinnedGroups: Set<number>[];
  /** Pinned units away from their current GPU: moves nothing can avoid. */
  readonly forcedMoves: number;
}

/** The phases of a problem (one phase: its costs), each with its weight, unit costs and group costs. */
function phasesOf(problem: LayerProblem) {
  return problem.phases ?? [{ weight: 1, costs: problem.costs, groupCosts: problem.groupCosts }];
}

export function classify(problem: LayerProblem, spec: MigrationSpec): ClassedLayer {
  const gpus = problem.speeds.length;
  const phases = phasesOf(problem);
  const byKey = new Map<string, MoveClass>();
  const pinnedCost = phases.map(() => new Array<number>(gpus).fill(0));
  const pinnedCount = new Array<number>(gpus).fill(0);
  const pinnedGroups = Array.from({ length: gpus }, () => new Set<number>());
  let forcedMoves = 0;
  problem.costs.forEach((_, u) => {
    const group = problem.unit2group?.[u] ?? -1;
    const pin = problem.unit2pin?.[u] ?? -1;
    const previous = spec.previous[u];
    const costs = phases.map((phase) => phase.costs[u]);
    if (pin >= 0) {
      costs.forEach((c, p) => {
        pinnedCost[p][pin] += c;
      });
      pinnedCount[pin] += 1;
      if (group >= 0) pinnedGroups[pin].add(group);
      if (pin !== previous) forcedMoves += 1;
      return;
    }
    const key = `${costs.join('|')}|${spec.moveCosts[u]}|${group}|${previous}`;
    let cls = byKey.get(key);
    if (!cls) {
      cls = { costs, moveCost: spec.moveCosts[u], group, previous, units: [] };
      byKey.set(key, cls);
    }
    cls.units.push(u);
  });
  return { classes: [...byKey.values()], pinnedCost, pinnedCount, pinnedGroups, forcedMoves };
}

/** The model, its cost scale and its count columns; or why no placement can exist. */
export type MigrationModel =
  | { model: GlpkModel; scale: number; n: (k: number, g: number) => string }
  | { reason: string };

export function buildMigrationModel(
  glpk: GLPK,
  problem: LayerProblem,
  spec: MigrationSpec,
  layer: ClassedLayer,
  objective: MigrationObjective,
  moveBudget: number,
): MigrationModel {
  const gpus = problem.speeds.length;
  const { classes, pinnedCount } = layer;
  const scale = Math.max(...problem.costs, ...(problem.groupCosts ?? []), Number.MIN_VALUE);
  const moveScale = Math.max(...classes.map((c) => c.moveCost * maxDistance(spec)), Number.MIN_VALUE);
  const n = (k: number, g: number) => `n_${k}_${g}`;
  const model = createGlpkModel(glpk, `migrate_${problem.layer}`);
  const objectiveTerms: Term[] = [];
  const movedTerms: Term[] = [];
  classes.forEach((cls, k) => {
    for (let g = 0; g < gpus; g++) {
      model.integer(n(k, g), 0, cls.units.length);
      if (g === cls.previous) continue;
      movedTerms.push({ name: n(k, g), coef: 1 });
      if (objective.kind === 'moves')
        objectiveTerms.push({ name: n(k, g), coef: moveCostTo(spec, cls.units[0], g) / moveScale });
    }
    const all = range(gpus).map((g) => ({ name: n(k, g), coef: 1 }));
    model.row(`class_${k}`, all, cls.units.length, cls.units.length);
  });
  const copies = copyColumns(problem, layer, n);
  const { lo, hi } = unitRange(problem, pinnedCount);
  for (let g = 0; g < gpus; g++) {
    if (hi[g] < lo[g]) return { reason: `pins leave GPU ${g} no feasible unit count` };
    if (classes.length === 0) continue;
    const count = classes.map((_, k) => ({ name: n(k, g), coef: 1 }));
    model.row(`count_${g}`, count, lo[g], hi[g]);
    loadRows(model, problem, layer, objective, { g, scale, n, copies });
  }
  if (objective.kind === 'moves' && objective.cutoff && objectiveTerms.length > 0) {
    const bound = (objective.cutoff.cost - objective.cutoff.step) / moveScale;
    if (bound < 0) return { reason: 'the incumbent moves nothing it could avoid' };
    model.row('cutoff', objectiveTerms, -Infinity, bound + 1e-9);
  }
  if (Number.isFinite(moveBudget) && movedTerms.length > 0) model.row('max_moves', movedTerms, -Infinity, moveBudget);
  copies?.declare(model);
  // GLPK wants at least one objective column; with nothing movable the objective is 0 anyway.
  const placeholder = classes.length > 0 ? [{ name: n(0, 0), coef: 0 }] : [];
  objectiveRows(model, problem, objective, objectiveTerms.length > 0 ? objectiveTerms : placeholder);
  return { model, scale, n };
}

/** The copy columns of a layer that needs them: y[group][gpu], their links, limits and cap. */
interface Copies {
  /** Copy terms of GPU g in the load row of phase p. */
  loadTerms(p: number, g: number, scale: number): Term[];
  /** Declares the columns and their rows (after the load rows, where the unit model had them). */
  declare(model: GlpkModel): void;
}

function copyColumns(problem: LayerProblem, layer: ClassedLayer, n: (k: number, g: number) => string): Copies | null {
  const priced = groupsMatter(problem);
  if (!priced && problem.maxGroupsPerGpu === undefined) return null;
  const y = (group: number, g: number) => `y_${group}_${g}`;
  const { classes, pinnedGroups } = layer;
  const groups = [...new Set(classes.map((c) => c.group))].sort((a, b) => a - b);
  const phases = phasesOf(problem);
  return {
    loadTerms: (p, g, scale) =>
      priced ? groups.map((k) => ({ name: y(k, g), coef: (phases[p].groupCosts?.[k] ?? 0) / scale })) : [],
    declare(model) {
      const fixed = pinnedGroups.map((pinned) => [...pinned].filter((k) => !groups.includes(k)).length);
      for (let g = 0; g < problem.speeds.length; g++) {
        for (const group of groups) {
          model.binary(y(group, g));
          // A row, not a bound: GLPK resets the bounds of binary columns to [0, 1].
          if (pinnedGroups[g].has(group)) model.row(`pinned_${group}_${g}`, [{ name: y(group, g), coef: 1 }], 1, 1);
          classes.forEach((cls, k) => {
            if (cls.group !== group) return;
            const link = [
              { name: n(k, g), coef: 1 },
              { name: y(group, g), coef: -cls.units.length },
            ];
            model.row(`link_${k}_${g}`, link, -Infinity, 0);
          });
        }
        if (problem.maxGroupsPerGpu === undefined) continue;
        const present = groups.map((group) => ({ name: y(group, g), coef: 1 }));
        model.row(`groups_${g}`, present, -Infinity, problem.maxGroupsPerGpu - fixed[g]);
      }
      if (problem.maxStoredGroups === undefined) return;
      const all = groups.flatMap((group) => range(problem.speeds.length).map((g) => ({ name: y(group, g), coef: 1 })));
      model.row('cap', all, -Infinity, problem.maxStoredGroups - fixed.reduce((a, b) => a + b, 0));
    },
  };
}

/**
 * GPU g's load rows: under the target (moves), or under the makespan variable (one per phase of a
 * mix). Pinned units' costs, and the copies of groups only pins bring, are fixed load.
 */
function loadRows(
  model: GlpkModel,
  problem: LayerProblem,
  layer: ClassedLayer,
  objective: MigrationObjective,
  at: { g: number; scale: number; n: (k: number, g: number) => string; copies: Copies | null },
): void {
  const { g, scale, n, copies } = at;
  const phases = phasesOf(problem);
  const classGroups = new Set(layer.classes.map((c) => c.group));
  phases.forEach((phase, p) => {
    const onlyPinned = [...layer.pinnedGroups[g]].filter((k) => !classGroups.has(k));
    const pinnedCopies = groupsMatter(problem) ? onlyPinned.reduce((s, k) => s + (phase.groupCosts?.[k] ?? 0), 0) : 0;
    const fixed = layer.pinnedCost[p][g] + pinnedCopies;
    const load = [
      ...layer.classes.map((cls, k) => ({ name: n(k, g), coef: cls.costs[p] / scale })),
      ...(copies?.loadTerms(p, g, scale) ?? []),
    ];
    const suffix = problem.phases ? `${p}_${g}` : `${g}`;
    if (objective.kind === 'moves' && !problem.phases) {
      const limit = objective.target * (1 + TARGET_SLACK) * problem.speeds[g] - fixed;
      model.row(`load_${suffix}`, load, -Infinity, limit / scale);
    } else {
      const makespan = problem.phases ? `C_${p}` : 'C';
      model.row(`load_${suffix}`, [...load, { name: makespan, coef: -problem.speeds[g] }], -Infinity, -fixed / scale);
    }
  });
}

/**
 * The objective: move cost (under the target: with a mix, sum_p w_p C_p <= target), or the
 * makespan (a mix: sum_p w_p C_p).
 */
function objectiveRows(model: GlpkModel, problem: LayerProblem, objective: MigrationObjective, moves: Term[]): void {
  const makespans = problem.phases ? problem.phases.map((phase, p) => ({ name: `C_${p}`, coef: phase.weight })) : [];
  for (const term of makespans) model.continuous(term.name, 0);
  if (objective.kind === 'moves') {
    if (problem.phases) model.row('target', makespans, -Infinity, objective.target * (1 + TARGET_SLACK));
    model.minimise(moves);
    return;
  }
  if (!problem.phases) model.continuous('C', 0);
  model.minimise(problem.phases ? makespans : [{ name: 'C', coef: 1 }]);
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
