/**
 * The placement ILP with KV copies (kv/groups.ts's model) and phase mixes: integer n[class][gpu]
 * counts of identical units (same KV group and the same cost in every phase), binary y[k][gpu]
 * "GPU stores group k" with sum over k's classes of n <= min(|k|, max units) x y (and per class
 * n <= size x y), every group stored at least once, sum y <= maxStoredGroups, per GPU sum_k y <=
 * maxGroupsPerGpu, each copy's group cost in the load rows, and one makespan variable per phase
 * (objective sum_p w_p C_p; one phase: C). Identical GPUs are ordered by combined load. Costs are
 * divided by `scale`.
 */
import type { GLPK } from 'glpk.js/node';
import { unitRange } from '../aggregate.ts';
import { createGlpkModel, type GlpkModel, type Term } from '../glpk-model.ts';
import type { ObjectiveRange, PlacementModel } from '../engines/ilp-models.ts';
import type { LayerProblem } from '../types.ts';

/** Units alike in every respect the model sees: group and cost in each phase. */
interface KvClass {
  readonly group: number;
  /** [phases] cost in each phase (one phase: the combined cost). */
  readonly costs: readonly number[];
  readonly units: number[];
}

/**
 * What the model minimises: the objective (within `range`), or (the second objective) the KV
 * heads stored with the objective at most `target`, fewer than `fewerThan`.
 */
export type KvObjective =
  | { readonly kind: 'makespan'; readonly range: ObjectiveRange }
  | { readonly kind: 'stored'; readonly target: number; readonly fewerThan: number };

/** Column names of the KV model. */
const n = (c: number, g: number) => `n_${c}_${g}`;
const y = (k: number, g: number) => `y_${k}_${g}`;
const C = (p: number) => `C_${p}`;

/** What the rows of the KV model share: the layer in classes, its groups, its phases, the cost scale. */
interface KvLayout {
  readonly problem: LayerProblem;
  readonly classes: readonly KvClass[];
  readonly pinned: Pinned;
  /** Groups with free units (the ones with y columns), ascending. */
  readonly groups: readonly number[];
  readonly phases: readonly {
    readonly weight: number;
    readonly costs: readonly number[];
    readonly groupCosts?: readonly number[];
  }[];
  readonly scale: number;
}

export function kvModel(glpk: GLPK, problem: LayerProblem, scale: number, objective: KvObjective): PlacementModel {
  const gpus = problem.speeds.length;
  const phases = problem.phases ?? [{ weight: 1, costs: problem.costs, groupCosts: problem.groupCosts }];
  const { classes, pinned } = classify(problem, phases.length);
  const groups = [...new Set(classes.map((c) => c.group))].filter((k) => k >= 0).sort((a, b) => a - b);
  const layout: KvLayout = { problem, classes, pinned, groups, phases, scale };
  const model = createGlpkModel(glpk, `kv_layer_${problem.layer}`);
  classes.forEach((cls, c) => {
    for (let g = 0; g < gpus; g++) model.integer(n(c, g), 0, cls.units.length);
    const all = range(gpus).map((g) => ({ name: n(c, g), coef: 1 }));
    model.row(`class_${c}`, all, cls.units.length, cls.units.length);
  });
  const allCopies = copyRows(model, layout, objective);
  const loadTerms = (p: number, g: number): Term[] => [
    ...classes.map((cls, c) => ({ name: n(c, g), coef: cls.costs[p] / scale })),
    ...groups.map((k) => ({ name: y(k, g), coef: (phases[p].groupCosts?.[k] ?? 0) / scale })),
  ];
  loadRows(model, layout, loadTerms);
  orderIdenticalGpus(model, problem, pinned, (g) =>
    phases.flatMap((phase, p) => scaled(loadTerms(p, g), phase.weight)),
  );
  const objectiveTerms = phases.map((phase, p) => ({ name: C(p), coef: phase.weight }));
  phases.forEach((_, p) => model.continuous(C(p), 0));
  if (objective.kind === 'makespan') {
    const { lower, cutoff } = objective.range;
    model.row('objective_range', objectiveTerms, Math.min(lower, cutoff), cutoff);
    model.minimise(objectiveTerms);
  } else {
    model.row('objective_within', objectiveTerms, -Infinity, objective.target);
    model.minimise(allCopies);
  }
  return { model, decode: (vars) => decode(problem, classes, gpus, (c, g) => Math.round(vars[n(c, g)] ?? 0)) };
}

/**
 * Copies: y[k][g] with its links to the counts (per group and, when tighter, per class), the
 * pins' copies fixed, the per-GPU group limit, every group stored once at least, the cap (and the
 * second objective's tighter one). Returns the terms of all copies.
 */
function copyRows(model: GlpkModel, layout: KvLayout, objective: KvObjective): Term[] {
  const { problem, classes, pinned, groups } = layout;
  const gpus = problem.speeds.length;
  const fixedCopies = pinnedPairsOutside(pinned, groups);
  for (let g = 0; g < gpus; g++) {
    for (const k of groups) {
      model.binary(y(k, g));
      if (pinned.groups[g].has(k)) model.row(`pinned_${k}_${g}`, [{ name: y(k, g), coef: 1 }], 1, 1);
      const members = classes.map((cls, c) => ({ cls, c })).filter(({ cls }) => cls.group === k);
      const room = Math.min(
        members.reduce((s, m) => s + m.cls.units.length, 0),
        problem.maxUnitsPerGpu - pinned.count[g],
      );
      const link = [...members.map(({ c }) => ({ name: n(c, g), coef: 1 })), { name: y(k, g), coef: -room }];
      model.row(`link_${k}_${g}`, link, -Infinity, 0);
      for (const { cls, c } of members) {
        if (members.length <= 1 || cls.units.length >= room) continue;
        const classLink = [
          { name: n(c, g), coef: 1 },
          { name: y(k, g), coef: -cls.units.length },
        ];
        model.row(`linkc_${c}_${g}`, classLink, -Infinity, 0);
      }
    }
    if (problem.maxGroupsPerGpu !== undefined) {
      const present = groups.map((k) => ({ name: y(k, g), coef: 1 }));
      model.row(`groups_${g}`, present, -Infinity, problem.maxGroupsPerGpu - fixedCopies.perGpu[g]);
    }
  }
  for (const k of groups)
    model.row(
      `stored_${k}`,
      range(gpus).map((g) => ({ name: y(k, g), coef: 1 })),
      1,
      Infinity,
    );
  const allCopies = groups.flatMap((k) => range(gpus).map((g) => ({ name: y(k, g), coef: 1 })));
  const cap = Math.min(
    problem.maxStoredGroups ?? Infinity,
    objective.kind === 'stored' ? objective.fewerThan - 1 : Infinity,
  );
  if (Number.isFinite(cap)) model.row('cap', allCopies, -Infinity, cap - fixedCopies.total);
  return allCopies;
}

/**
 * Unit counts and each phase's load rows: pinned units' costs, and the copies of groups only
 * pins bring (no y column), are fixed load.
 */
function loadRows(model: GlpkModel, layout: KvLayout, loadTerms: (p: number, g: number) => Term[]): void {
  const { problem, classes, pinned, groups, phases, scale } = layout;
  const groupCost = (p: number, k: number) => (phases[p].groupCosts?.[k] ?? 0) / scale;
  const fixedLoad = (p: number, g: number) =>
    pinned.load[p][g] / scale +
    [...pinned.groups[g]].filter((k) => !groups.includes(k)).reduce((s, k) => s + groupCost(p, k), 0);
  const { lo, hi } = unitRange(problem, pinned.count);
  for (let g = 0; g < problem.speeds.length; g++) {
    const count = classes.map((_, c) => ({ name: n(c, g), coef: 1 }));
    model.row(`count_${g}`, count, lo[g], hi[g]);
    phases.forEach((_, p) => {
      const load = [...loadTerms(p, g), { name: C(p), coef: -problem.speeds[g] }];
      model.row(`load_${p}_${g}`, load, -Infinity, -fixedLoad(p, g));
    });
  }
}

/** Free units in classes; pinned units' counts, groups and per-phase loads (their copies' costs included) by GPU. */
/** Pinned units by GPU: their count, KV groups and (per phase) load. */
interface Pinned {
  readonly count: number[];
  readonly groups: Set<number>[];
  readonly load: number[][];
}

function classify(problem: LayerProblem, phaseCount: number): { classes: KvClass[]; pinned: Pinned } {
  const gpus = problem.speeds.length;
  const phases = problem.phases ?? [{ weight: 1, costs: problem.costs, groupCosts: problem.groupCosts }];
  const byKey = new Map<string, KvClass>();
  const count = new Array<number>(gpus).fill(0);
  const groups = Array.from({ length: gpus }, () => new Set<number>());
  const load = Array.from({ length: phaseCount }, () => new Array<number>(gpus).fill(0));
  problem.costs.forEach((_, u) => {
    const group = problem.unit2group?.[u] ?? -1;
    const costs = phases.map((phase) => phase.costs[u]);
    const pin = problem.unit2pin?.[u] ?? -1;
    if (pin >= 0) {
      count[pin] += 1;
      costs.forEach((c, p) => {
        load[p][pin] += c;
      });
      if (group >= 0) groups[pin].add(group);
      return;
    }
    const key = `${group}|${costs.join('|')}`;
    const known = byKey.get(key) ?? { group, costs, units: [] };
    known.units.push(u);
    byKey.set(key, known);
  });
  const classes = [...byKey.values()].sort((a, b) => b.costs[0] - a.costs[0] || a.group - b.group);
  return { classes, pinned: { count, groups, load } };
}

/** Pinned (group, GPU) pairs of groups with no free unit (no y column): per GPU and in all. */
function pinnedPairsOutside(pinned: { groups: Set<number>[] }, groups: readonly number[]) {
  const perGpu = pinned.groups.map((set) => [...set].filter((k) => !groups.includes(k)).length);
  return { perGpu, total: perGpu.reduce((a, b) => a + b, 0) };
}

/** Identical GPUs (same speed and pins) in order of combined load. */
function orderIdenticalGpus(
  model: GlpkModel,
  problem: LayerProblem,
  pinned: { count: number[]; groups: Set<number>[]; load: number[][] },
  combined: (g: number) => Term[],
): void {
  const same = (g: number, h: number) =>
    problem.speeds[g] === problem.speeds[h] &&
    pinned.count[g] === pinned.count[h] &&
    [...pinned.groups[g]].join() === [...pinned.groups[h]].join() &&
    pinned.load.every((row) => row[g] === row[h]);
  for (let g = 0; g + 1 < problem.speeds.length; g++) {
    if (!same(g, g + 1)) continue;
    const next = scaled(combined(g + 1), -1);
    model.row(`order_${g}`, scaled([...combined(g), ...next], 1), 0, Infinity);
  }
}

/** The terms times `by`, one term per column (GLPK refuses a column twice in a row). */
function scaled(terms: readonly Term[], by: number): Term[] {
  const merged = new Map<string, number>();
  for (const t of terms) merged.set(t.name, (merged.get(t.name) ?? 0) + t.coef * by);
  return [...merged].map(([name, coef]) => ({ name, coef }));
}

function decode(
  problem: LayerProblem,
  classes: readonly KvClass[],
  gpus: number,
  count: (c: number, g: number) => number,
) {
  const unit2gpu = problem.costs.map((_, u) => problem.unit2pin?.[u] ?? -1);
  classes.forEach((cls, c) => {
    let next = 0;
    for (let g = 0; g < gpus; g++)
      for (let i = 0; i < count(c, g) && next < cls.units.length; i++) unit2gpu[cls.units[next++]] = g;
  });
  return unit2gpu;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
