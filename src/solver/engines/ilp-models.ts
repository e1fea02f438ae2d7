/**
 * The placement ILPs without KV copies (kv/kv-ilp.ts has the one with them), built through the
 * model builder. Costs are divided by `scale` so GLPK works near 1; C is the makespan in that unit.
 */
import type { GLPK } from 'glpk.js/node';
import { type AggregatedLayer, disaggregate, unitRange } from '../aggregate.ts';
import { createGlpkModel, type GlpkModel, type Term } from '../glpk-model.ts';
import type { LayerProblem } from '../types.ts';

/** A model ready for GLPK and the way back from its values to a placement. */
export interface PlacementModel {
  readonly model: GlpkModel;
  /** GLPK variable values -> [units] GPU of each unit. */
  decode(vars: Readonly<Record<string, number>>): number[];
}

/** C's range in the scaled unit: at least `lower`, at most `cutoff` (Infinity: no cutoff). */
export interface ObjectiveRange {
  readonly lower: number;
  readonly cutoff: number;
}

/**
 * Integer n[class][gpu] counts of identical units (same cost, and same KV group under a KV-group
 * limit), binary y[group][gpu] for KV groups present, makespan C; identical GPUs (same speed and
 * pins) ordered by load to remove their symmetry.
 */
export function aggregatedModel(
  glpk: GLPK,
  problem: LayerProblem,
  layer: AggregatedLayer,
  scale: number,
  range: ObjectiveRange,
): PlacementModel {
  const gpus = problem.speeds.length;
  const n = (k: number, g: number) => `n_${k}_${g}`;
  const model = createGlpkModel(glpk, `layer_${problem.layer}`);
  const costs = layer.classes.map((c) => c.cost / scale);
  layer.classes.forEach((cls, k) => {
    for (let g = 0; g < gpus; g++) model.integer(n(k, g), 0, cls.units.length);
    const all = range_(gpus).map((g) => ({ name: n(k, g), coef: 1 }));
    model.row(`class_${k}`, all, cls.units.length, cls.units.length);
  });
  const loadTerms = (g: number): Term[] => layer.classes.map((_, k) => ({ name: n(k, g), coef: costs[k] }));
  const { lo, hi } = unitRange(problem, layer.pinnedCount);
  for (let g = 0; g < gpus; g++) {
    model.row(
      `count_${g}`,
      layer.classes.map((_, k) => ({ name: n(k, g), coef: 1 })),
      lo[g],
      hi[g],
    );
    const load = [...loadTerms(g), { name: 'C', coef: -problem.speeds[g] }];
    model.row(`load_${g}`, load, -Infinity, -layer.pinnedCost[g] / scale);
  }
  // Identical GPUs are interchangeable: order their loads.
  for (let g = 0; g + 1 < gpus; g++) {
    if (!sameGpus(problem, layer, g, g + 1)) continue;
    const next = loadTerms(g + 1).map((t) => ({ name: t.name, coef: -t.coef }));
    const order = loadTerms(g).flatMap((t, k) => [t, next[k]]);
    model.row(`order_${g}`, order, 0, Infinity);
  }
  if (problem.maxGroupsPerGpu !== undefined) groupLimitRows(model, problem, layer, n);
  model.continuous('C', Math.min(range.lower, range.cutoff), range.cutoff);
  model.minimise([{ name: 'C', coef: 1 }]);
  return {
    model,
    decode: (vars) =>
      disaggregate(
        problem,
        layer,
        range_(gpus).map((g) => layer.classes.map((_, k) => Math.round(vars[n(k, g)] ?? 0))),
      ),
  };
}

/** Same speed, same pinned cost, count and groups: GPUs g and h are interchangeable. */
function sameGpus(problem: LayerProblem, layer: AggregatedLayer, g: number, h: number): boolean {
  return (
    problem.speeds[g] === problem.speeds[h] &&
    layer.pinnedCost[g] === layer.pinnedCost[h] &&
    layer.pinnedCount[g] === layer.pinnedCount[h] &&
    layer.pinnedGroups[g].join() === layer.pinnedGroups[h].join()
  );
}

/** y[group][gpu] >= n[class][gpu] / size, at most maxGroupsPerGpu groups per GPU (pins included). */
function groupLimitRows(
  model: GlpkModel,
  problem: LayerProblem,
  layer: AggregatedLayer,
  n: (k: number, g: number) => string,
): void {
  const y = (group: number, g: number) => `y_${group}_${g}`;
  const groups = [...new Set(layer.classes.map((c) => c.group))].sort((a, b) => a - b);
  for (let g = 0; g < problem.speeds.length; g++) {
    const pinned = new Set(layer.pinnedGroups[g]);
    for (const group of groups) {
      model.binary(y(group, g));
      if (pinned.has(group)) model.row(`pinned_${group}_${g}`, [{ name: y(group, g), coef: 1 }], 1, 1);
      layer.classes.forEach((cls, k) => {
        if (cls.group !== group) return;
        const link = [
          { name: n(k, g), coef: 1 },
          { name: y(group, g), coef: -cls.units.length },
        ];
        model.row(`link_${k}_${g}`, link, -Infinity, 0);
      });
    }
    const pinnedOnly = [...pinned].filter((group) => !groups.includes(group)).length;
    const present = groups.map((group) => ({ name: y(group, g), coef: 1 }));
    model.row(`groups_${g}`, present, -Infinity, problem.maxGroupsPerGpu! - pinnedOnly);
  }
}

/** Binary x[unit][gpu] and C, nothing else: the baseline the benchmark compares with. */
export function textbookModel(glpk: GLPK, problem: LayerProblem, scale: number, range: ObjectiveRange): PlacementModel {
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  const x = (u: number, g: number) => `x_${u}_${g}`;
  const model = createGlpkModel(glpk, `layer_${problem.layer}_textbook`);
  for (let u = 0; u < units; u++) {
    const pin = problem.unit2pin?.[u] ?? -1;
    for (let g = 0; g < gpus; g++) model.binary(x(u, g));
    if (pin >= 0) model.row(`pin_${u}`, [{ name: x(u, pin), coef: 1 }], 1, 1);
    const once = range_(gpus).map((g) => ({ name: x(u, g), coef: 1 }));
    model.row(`unit_${u}`, once, 1, 1);
  }
  for (let g = 0; g < gpus; g++) {
    const all = range_(units).map((u) => ({ name: x(u, g), coef: 1 }));
    model.row(`count_${g}`, all, problem.minUnitsPerGpu, problem.maxUnitsPerGpu);
    const load = [
      ...range_(units).map((u) => ({ name: x(u, g), coef: problem.costs[u] / scale })),
      { name: 'C', coef: -problem.speeds[g] },
    ];
    model.row(`load_${g}`, load, -Infinity, 0);
  }
  if (problem.maxGroupsPerGpu !== undefined && problem.unit2group) {
    const unit2group = problem.unit2group;
    const groups = [...new Set(unit2group)];
    for (let g = 0; g < gpus; g++) {
      for (const group of groups) {
        model.binary(`y_${group}_${g}`);
        for (let u = 0; u < units; u++) {
          if (unit2group[u] !== group) continue;
          const link = [
            { name: x(u, g), coef: 1 },
            { name: `y_${group}_${g}`, coef: -1 },
          ];
          model.row(`link_${u}_${g}`, link, -Infinity, 0);
        }
      }
      const present = groups.map((group) => ({ name: `y_${group}_${g}`, coef: 1 }));
      model.row(`groups_${g}`, present, -Infinity, problem.maxGroupsPerGpu);
    }
  }
  model.continuous('C', Math.min(range.lower, range.cutoff), range.cutoff);
  model.minimise([{ name: 'C', coef: 1 }]);
  return {
    model,
    decode: (vars) =>
      range_(units).map((u) => {
        for (let g = 0; g < gpus; g++) if ((vars[x(u, g)] ?? 0) > 0.5) return g;
        return -1;
      }),
  };
}

function range_(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
