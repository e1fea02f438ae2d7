import type { GLPK } from 'glpk.js/node';
import { GLPK_BOUND_FACTOR, GLPK_OVERHEAD_MS, ILP_PROOF_PRECISION } from '../engines/ilp.ts';
import { createGlpkModel, type GlpkModel, solveModel, type Term } from '../glpk-model.ts';
import type { LayerProblem } from '../types.ts';
import { shareMakespan } from './part-cost.ts';
import type { LayerSplits, SharePlan } from './types.ts';

/** What one GLPK run on the split model established. */
export interface SplitMilpOutcome {
  /** A better share plan than the cutoff, or null. */
  readonly plan: SharePlan | null;
  /** A valid lower bound (GLPK's proof, or `lowerBound` when it proved nothing). */
  readonly lowerBound: number;
  /** 'proved': optimal, or nothing below the cutoff; 'time_limit'; 'failed' with a reason. */
  readonly outcome: 'proved' | 'time_limit' | 'failed';
  readonly reason?: string;
}

/**
 * The split model as a mixed-integer program in GLPK. For every unit u and GPU g: y[u][g] binary
 * (u whole on g); for unpinned units also x[u][g] binary (a part of u on g), p[u][g] binary (the
 * owner's part), w[u][g] in [0, 1] (the part's share of u's variable cost) and z[u] binary (u is
 * split). sum_g y + z = 1; sum_g w = z; w <= x; 2z <= sum_g x <= P z; sum_g p = z, p <= x; the
 * owner's share is the largest (w[u][h] - w[u][g] <= 1 - p[u][g]); sum_u z <= S; owners per GPU
 * within the units-per-GPU rule (and, under a maximum, whole units plus parts too); load of g:
 * sum_u cost y + variable w + overhead x <= speed C. Identical GPUs are ordered by load. C is cut
 * off below `upper` by half the proof precision, so an infeasible answer proves `upper` good
 * enough; bounds from GLPK are lowered for its feasibility tolerance as the whole-unit ILP's are.
 */
/** The incumbent, the bound and the limits of one MILP run. */
export interface SplitMilpLimits {
  /** Makespan of the best plan known (Infinity when none): C is cut off below it. */
  readonly upper: number;
  /** A valid lower bound already known. */
  readonly lowerBound: number;
  readonly timeLimitMs: number;
  readonly gapTolerance: number;
}

/** The split model's column names. */
const y = (u: number, g: number) => `y_${u}_${g}`;
const x = (u: number, g: number) => `x_${u}_${g}`;
const p = (u: number, g: number) => `p_${u}_${g}`;
const w = (u: number, g: number) => `w_${u}_${g}`;
const z = (u: number) => `z_${u}`;

export function solveSplitMilp(
  glpk: GLPK,
  problem: LayerProblem,
  splits: LayerSplits,
  limits: SplitMilpLimits,
): SplitMilpOutcome {
  const { upper, lowerBound } = limits;
  const precision = Math.max(limits.gapTolerance, ILP_PROOF_PRECISION);
  // As in the whole-unit ILP: GLPK proves half the precision, the rest covers its tolerances.
  const glpkGap = precision / 2;
  const scale = Math.max(...problem.costs, Number.MIN_VALUE);
  const splittable = problem.costs.map((_, u) => u).filter((u) => (problem.unit2pin?.[u] ?? -1) < 0);
  const model = createGlpkModel(glpk, `split_${problem.layer}`);
  for (let u = 0; u < problem.costs.length; u++) unitRows(model, problem, splits, u);
  const chosen = splittable.map((u) => ({ name: z(u), coef: 1 }));
  model.row('split', chosen, -Infinity, splits.maxSplitHeads);
  gpuRows(model, problem, splits, splittable, scale);
  const cutoff = Number.isFinite(upper) ? (upper * (1 - glpkGap)) / scale : Infinity;
  model.continuous('C', Math.min(lowerBound / scale, cutoff), cutoff);
  model.minimise([{ name: 'C', coef: 1 }]);
  const answer = solveModel(glpk, model.build(), {
    timeLimitMs: limits.timeLimitMs,
    overheadMs: GLPK_OVERHEAD_MS,
    mipgap: glpkGap,
  });
  if (answer.status === 'failed') return { plan: null, lowerBound, outcome: 'failed', reason: answer.reason };
  if (answer.status === 'infeasible') {
    return Number.isFinite(cutoff)
      ? { plan: null, lowerBound: Math.max(lowerBound, cutoff * scale * GLPK_BOUND_FACTOR), outcome: 'proved' }
      : { plan: null, lowerBound, outcome: 'failed', reason: 'GLPK reports the split model infeasible' };
  }
  if (answer.status === 'stopped') return { plan: null, lowerBound, outcome: 'time_limit' };
  const plan = decode(problem, splittable, answer.vars);
  const outcome = answer.status === 'optimal' ? 'proved' : 'time_limit';
  const bound =
    outcome === 'proved' ? Math.max(lowerBound, answer.z * scale * (1 - glpkGap) * GLPK_BOUND_FACTOR) : lowerBound;
  const better = plan !== null && shareMakespan(problem, splits, plan) < upper;
  return { plan: better ? plan : null, lowerBound: bound, outcome };
}

/** sum over GPUs of column(u, g), plus coef x z[u]. */
function acrossGpus(gpus: number, column: (u: number, g: number) => string, u: number, coef: number): Term[] {
  return [...Array.from({ length: gpus }, (_, g) => ({ name: column(u, g), coef: 1 })), { name: z(u), coef }];
}

/** Unit u's columns and rows: whole or split, its parts, shares and owner. */
function unitRows(model: GlpkModel, problem: LayerProblem, splits: LayerSplits, u: number): void {
  const gpus = problem.speeds.length;
  const pin = problem.unit2pin?.[u] ?? -1;
  for (let g = 0; g < gpus; g++) model.binary(y(u, g));
  // Rows, not bounds: GLPK resets the bounds of binary columns to [0, 1].
  if (pin >= 0) {
    model.row(`pin_${u}`, [{ name: y(u, pin), coef: 1 }], 1, 1);
    return;
  }
  model.binary(z(u));
  model.row(`assign_${u}`, acrossGpus(gpus, y, u, 1), 1, 1);
  model.row(`shares_${u}`, acrossGpus(gpus, w, u, -1), 0, 0);
  model.row(`partsmin_${u}`, acrossGpus(gpus, x, u, -2), 0, Infinity);
  model.row(`partsmax_${u}`, acrossGpus(gpus, x, u, -splits.maxPartsPerHead), -Infinity, 0);
  model.row(`owner_${u}`, acrossGpus(gpus, p, u, -1), 0, 0);
  for (let g = 0; g < gpus; g++) {
    model.binary(x(u, g));
    model.binary(p(u, g));
    model.continuous(w(u, g), 0, 1);
    const share = [
      { name: w(u, g), coef: 1 },
      { name: x(u, g), coef: -1 },
    ];
    model.row(`share_${u}_${g}`, share, -Infinity, 0);
    const ownerPart = [
      { name: p(u, g), coef: 1 },
      { name: x(u, g), coef: -1 },
    ];
    model.row(`ownerpart_${u}_${g}`, ownerPart, -Infinity, 0);
    for (let h = 0; h < gpus; h++) {
      if (h === g) continue;
      const largest = [
        { name: w(u, h), coef: 1 },
        { name: w(u, g), coef: -1 },
        { name: p(u, g), coef: 1 },
      ];
      model.row(`largest_${u}_${g}_${h}`, largest, -Infinity, 1);
    }
  }
}

/** Each GPU's owners and held units within the units-per-GPU rule, its load under C; identical GPUs in order of load. */
function gpuRows(
  model: GlpkModel,
  problem: LayerProblem,
  splits: LayerSplits,
  splittable: readonly number[],
  scale: number,
): void {
  const gpus = problem.speeds.length;
  const unitList = problem.costs.map((_, u) => u);
  const loadTerms = (g: number): Term[] => [
    ...unitList.map((u) => ({ name: y(u, g), coef: problem.costs[u] / scale })),
    ...splittable.flatMap((u) => [
      { name: w(u, g), coef: splits.units[u].variable / scale },
      { name: x(u, g), coef: splits.units[u].partOverhead / scale },
    ]),
  ];
  const lo = problem.minUnitsPerGpu;
  const hi = problem.maxUnitsPerGpu;
  for (let g = 0; g < gpus; g++) {
    const whole = unitList.map((u) => ({ name: y(u, g), coef: 1 }));
    model.row(`count_${g}`, [...whole, ...splittable.map((u) => ({ name: p(u, g), coef: 1 }))], lo, hi);
    const held = [...whole, ...splittable.map((u) => ({ name: x(u, g), coef: 1 }))];
    if (lo < hi) model.row(`held_${g}`, held, -Infinity, hi);
    model.row(`load_${g}`, [...loadTerms(g), { name: 'C', coef: -problem.speeds[g] }], -Infinity, 0);
  }
  const pinnedOn = (gpu: number) => unitList.filter((u) => problem.unit2pin?.[u] === gpu).join();
  for (let g = 0; g + 1 < gpus; g++) {
    if (problem.speeds[g] !== problem.speeds[g + 1] || pinnedOn(g) !== pinnedOn(g + 1)) continue;
    const next = loadTerms(g + 1).map((t) => ({ name: t.name, coef: -t.coef }));
    model.row(`order_${g}`, [...loadTerms(g), ...next], 0, Infinity);
  }
}

/** GLPK's values -> a share plan (parts with no share are dropped); null when they do not decode. */
function decode(
  problem: LayerProblem,
  splittable: readonly number[],
  vars: Readonly<Record<string, number>>,
): SharePlan | null {
  const gpus = problem.speeds.length;
  const unit2gpu = new Array<number>(problem.costs.length).fill(-1);
  const parts = new Map<number, { gpu: number; share: number }[]>();
  for (let u = 0; u < problem.costs.length; u++) {
    for (let g = 0; g < gpus; g++) if ((vars[y(u, g)] ?? 0) > 0.5) unit2gpu[u] = g;
  }
  for (const u of splittable) {
    if (unit2gpu[u] >= 0) continue;
    const list: { gpu: number; share: number }[] = [];
    for (let g = 0; g < gpus; g++) {
      const share = Math.min(1, Math.max(0, vars[w(u, g)] ?? 0));
      if ((vars[p(u, g)] ?? 0) > 0.5) unit2gpu[u] = g;
      if (share > 1e-12) list.push({ gpu: g, share });
    }
    if (unit2gpu[u] < 0) return null;
    const total = list.reduce((s, part) => s + part.share, 0);
    const normalised = list.map((part) => ({ gpu: part.gpu, share: part.share / total }));
    if (normalised.length >= 2) parts.set(u, normalised);
  }
  return unit2gpu.every((g) => g >= 0) ? { unit2gpu, parts } : null;
}
