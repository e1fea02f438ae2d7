import type { GLPK, LP, Result } from 'glpk.js/node';
import { GLPK_BOUND_FACTOR, GLPK_OVERHEAD_MS, ILP_PROOF_PRECISION } from '../engines/ilp.ts';
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

export function solveSplitMilp(
  glpk: GLPK,
  problem: LayerProblem,
  splits: LayerSplits,
  limits: SplitMilpLimits,
): SplitMilpOutcome {
  const { upper, lowerBound } = limits;
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  const precision = Math.max(limits.gapTolerance, ILP_PROOF_PRECISION);
  // As in the whole-unit ILP: GLPK proves half the precision, the rest covers its tolerances.
  const glpkGap = precision / 2;
  const scale = Math.max(...problem.costs, Number.MIN_VALUE);
  const y = (u: number, g: number) => `y_${u}_${g}`;
  const x = (u: number, g: number) => `x_${u}_${g}`;
  const p = (u: number, g: number) => `p_${u}_${g}`;
  const w = (u: number, g: number) => `w_${u}_${g}`;
  const z = (u: number) => `z_${u}`;
  const gpuList = Array.from({ length: gpus }, (_, g) => g);
  const unitList = Array.from({ length: units }, (_, u) => u);
  const splittable = unitList.filter((u) => (problem.unit2pin?.[u] ?? -1) < 0);
  const subjectTo: LP['subjectTo'] = [];
  const bounds: NonNullable<LP['bounds']> = [];
  const binaries: string[] = [];
  type Term = { name: string; coef: number };
  const row = (name: string, vars: Term[], type: number, lb: number, ub: number) => {
    subjectTo.push({ name, vars, bnds: { type, lb, ub } });
  };
  /** sum over GPUs of variable(u, g), plus coef * z[u]. */
  const acrossGpus = (variable: (u: number, g: number) => string, u: number, coef: number): Term[] => [
    ...gpuList.map((g) => ({ name: variable(u, g), coef: 1 })),
    { name: z(u), coef },
  ];

  for (let u = 0; u < units; u++) {
    const pin = problem.unit2pin?.[u] ?? -1;
    for (const g of gpuList) binaries.push(y(u, g));
    // Rows, not bounds: GLPK resets the bounds of binary columns to [0, 1].
    if (pin >= 0) {
      row(`pin_${u}`, [{ name: y(u, pin), coef: 1 }], glpk.GLP_FX, 1, 1);
      continue;
    }
    binaries.push(z(u));
    row(`assign_${u}`, acrossGpus(y, u, 1), glpk.GLP_FX, 1, 1);
    row(`shares_${u}`, acrossGpus(w, u, -1), glpk.GLP_FX, 0, 0);
    row(`partsmin_${u}`, acrossGpus(x, u, -2), glpk.GLP_LO, 0, 0);
    row(`partsmax_${u}`, acrossGpus(x, u, -splits.maxPartsPerHead), glpk.GLP_UP, 0, 0);
    row(`owner_${u}`, acrossGpus(p, u, -1), glpk.GLP_FX, 0, 0);
    for (const g of gpuList) {
      binaries.push(x(u, g), p(u, g));
      bounds.push({ name: w(u, g), type: glpk.GLP_DB, lb: 0, ub: 1 });
      row(
        `share_${u}_${g}`,
        [
          { name: w(u, g), coef: 1 },
          { name: x(u, g), coef: -1 },
        ],
        glpk.GLP_UP,
        0,
        0,
      );
      row(
        `ownerpart_${u}_${g}`,
        [
          { name: p(u, g), coef: 1 },
          { name: x(u, g), coef: -1 },
        ],
        glpk.GLP_UP,
        0,
        0,
      );
      for (const h of gpuList) {
        if (h === g) continue;
        const largest = [
          { name: w(u, h), coef: 1 },
          { name: w(u, g), coef: -1 },
          { name: p(u, g), coef: 1 },
        ];
        row(`largest_${u}_${g}_${h}`, largest, glpk.GLP_UP, 0, 1);
      }
    }
  }
  row(
    'split',
    splittable.map((u) => ({ name: z(u), coef: 1 })),
    glpk.GLP_UP,
    0,
    splits.maxSplitHeads,
  );

  const loadTerms = (g: number): Term[] => [
    ...unitList.map((u) => ({ name: y(u, g), coef: problem.costs[u] / scale })),
    ...splittable.flatMap((u) => [
      { name: w(u, g), coef: splits.units[u].variable / scale },
      { name: x(u, g), coef: splits.units[u].partOverhead / scale },
    ]),
  ];
  const lo = problem.minUnitsPerGpu;
  const hi = problem.maxUnitsPerGpu;
  for (const g of gpuList) {
    const whole = unitList.map((u) => ({ name: y(u, g), coef: 1 }));
    const owned = [...whole, ...splittable.map((u) => ({ name: p(u, g), coef: 1 }))];
    row(`count_${g}`, owned, lo === hi ? glpk.GLP_FX : glpk.GLP_DB, lo, hi);
    const held = [...whole, ...splittable.map((u) => ({ name: x(u, g), coef: 1 }))];
    if (lo < hi) row(`held_${g}`, held, glpk.GLP_UP, 0, hi);
    row(`load_${g}`, [...loadTerms(g), { name: 'C', coef: -problem.speeds[g] }], glpk.GLP_UP, 0, 0);
  }
  const pinnedOn = (gpu: number) => unitList.filter((u) => problem.unit2pin?.[u] === gpu).join();
  for (let g = 0; g + 1 < gpus; g++) {
    if (problem.speeds[g] !== problem.speeds[g + 1] || pinnedOn(g) !== pinnedOn(g + 1)) continue;
    const next = loadTerms(g + 1).map((t) => ({ name: t.name, coef: -t.coef }));
    row(`order_${g}`, [...loadTerms(g), ...next], glpk.GLP_LO, 0, 0);
  }
  const cutoff = Number.isFinite(upper) ? (upper * (1 - glpkGap)) / scale : Infinity;
  const lower = Math.min(lowerBound / scale, cutoff);
  bounds.push(
    Number.isFinite(cutoff)
      ? { name: 'C', type: glpk.GLP_DB, lb: lower, ub: cutoff }
      : { name: 'C', type: glpk.GLP_LO, lb: lower, ub: 0 },
  );
  const objective = { direction: glpk.GLP_MIN, name: 'makespan', vars: [{ name: 'C', coef: 1 }] };
  const lp: LP = { name: `split_${problem.layer}`, objective, subjectTo, bounds, binaries };

  let result: Result;
  try {
    const tmlim = Math.max(0.001, (limits.timeLimitMs - GLPK_OVERHEAD_MS) / 1000);
    result = glpk.solve(lp, { msglev: glpk.GLP_MSG_OFF, tmlim, mipgap: glpkGap, presol: true });
  } catch (error) {
    const reason = `GLPK failed: ${error instanceof Error ? error.message : String(error)}`;
    return { plan: null, lowerBound, outcome: 'failed', reason };
  }
  const status = result.result.status;
  if (status === glpk.GLP_NOFEAS) {
    return Number.isFinite(cutoff)
      ? { plan: null, lowerBound: Math.max(lowerBound, cutoff * scale * GLPK_BOUND_FACTOR), outcome: 'proved' }
      : { plan: null, lowerBound, outcome: 'failed', reason: 'GLPK reports the split model infeasible' };
  }
  if (status !== glpk.GLP_OPT && status !== glpk.GLP_FEAS) return { plan: null, lowerBound, outcome: 'time_limit' };
  const plan = decode(problem, splittable, result.result.vars, { y, w, p });
  const outcome = status === glpk.GLP_OPT ? 'proved' : 'time_limit';
  const bound =
    outcome === 'proved'
      ? Math.max(lowerBound, result.result.z * scale * (1 - glpkGap) * GLPK_BOUND_FACTOR)
      : lowerBound;
  const better = plan !== null && shareMakespan(problem, splits, plan) < upper;
  return { plan: better ? plan : null, lowerBound: bound, outcome };
}

/** GLPK's values -> a share plan (parts with no share are dropped); null when they do not decode. */
type VariableName = (u: number, g: number) => string;
function decode(
  problem: LayerProblem,
  splittable: readonly number[],
  vars: Record<string, number>,
  name: { y: VariableName; w: VariableName; p: VariableName },
): SharePlan | null {
  const gpus = problem.speeds.length;
  const unit2gpu = new Array<number>(problem.costs.length).fill(-1);
  const parts = new Map<number, { gpu: number; share: number }[]>();
  for (let u = 0; u < problem.costs.length; u++) {
    for (let g = 0; g < gpus; g++) if ((vars[name.y(u, g)] ?? 0) > 0.5) unit2gpu[u] = g;
  }
  for (const u of splittable) {
    if (unit2gpu[u] >= 0) continue;
    const list: { gpu: number; share: number }[] = [];
    for (let g = 0; g < gpus; g++) {
      const share = Math.min(1, Math.max(0, vars[name.w(u, g)] ?? 0));
      if ((vars[name.p(u, g)] ?? 0) > 0.5) unit2gpu[u] = g;
      if (share > 1e-12) list.push({ gpu: g, share });
    }
    if (unit2gpu[u] < 0) return null;
    const total = list.reduce((s, part) => s + part.share, 0);
    const normalised = list.map((part) => ({ gpu: part.gpu, share: part.share / total }));
    if (normalised.length >= 2) parts.set(u, normalised);
  }
  return unit2gpu.every((g) => g >= 0) ? { unit2gpu, parts } : null;
}
