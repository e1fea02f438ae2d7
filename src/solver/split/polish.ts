import type { GLPK } from 'glpk.js/node';
import { createGlpkModel, solveModel, type Term } from '../glpk-model.ts';
import type { LayerProblem } from '../types.ts';
import { shareMakespan } from './part-cost.ts';
import type { LayerSplits, SharePlan } from './types.ts';

/**
 * The best shares for a plan's structure (which units are split, onto which GPUs, owned where):
 * a linear program in GLPK over the shares w[u][g] and the makespan C, with sum_g w[u][g] = 1,
 * every part at most the owner's, and each GPU's load <= speed * C. A construction picks the
 * structure greedily and leaves shares that overshoot here and fall short there; this balances
 * them exactly. Returns the plan unchanged when the LP does not improve it.
 */
export function polishShares(
  glpk: GLPK,
  problem: LayerProblem,
  splits: LayerSplits,
  plan: SharePlan,
  timeLimitMs: number,
): SharePlan {
  if (plan.parts.size === 0) return plan;
  const gpus = problem.speeds.length;
  const scale = Math.max(...problem.costs, Number.MIN_VALUE);
  const w = (u: number, g: number) => `w_${u}_${g}`;
  // Shares and C are continuous and >= 0, GLPK's default for a column not declared.
  const model = createGlpkModel(glpk, `polish_${problem.layer}`);
  const loads: Term[][] = Array.from({ length: gpus }, () => []);
  const fixed = new Array<number>(gpus).fill(0);
  plan.unit2gpu.forEach((g, u) => {
    const list = plan.parts.get(u);
    if (!list) {
      fixed[g] += problem.costs[u] / scale;
      return;
    }
    const unit = splits.units[u];
    model.row(
      `shares_${u}`,
      list.map((p) => ({ name: w(u, p.gpu), coef: 1 })),
      1,
      1,
    );
    for (const part of list) {
      loads[part.gpu].push({ name: w(u, part.gpu), coef: unit.variable / scale });
      fixed[part.gpu] += unit.partOverhead / scale;
      if (part.gpu === g) continue;
      const smaller = [
        { name: w(u, part.gpu), coef: 1 },
        { name: w(u, g), coef: -1 },
      ];
      model.row(`owner_${u}_${part.gpu}`, smaller, -Infinity, 0);
    }
  });
  for (let g = 0; g < gpus; g++) {
    model.row(`load_${g}`, [...loads[g], { name: 'C', coef: -problem.speeds[g] }], -Infinity, -fixed[g]);
  }
  model.minimise([{ name: 'C', coef: 1 }]);
  // The plan is feasible already: an LP that fails or stops only leaves it as it was.
  const result = solveModel(glpk, model.build(), { timeLimitMs, overheadMs: 0 });
  if (result.status !== 'optimal') return plan;
  const vars = result.vars;
  const parts = new Map<number, { gpu: number; share: number }[]>();
  for (const [u, list] of plan.parts) {
    const shares = list.map((p) => ({ gpu: p.gpu, share: Math.max(0, vars[w(u, p.gpu)] ?? 0) }));
    const total = shares.reduce((s, p) => s + p.share, 0);
    parts.set(
      u,
      shares.map((p) => ({ gpu: p.gpu, share: p.share / total })),
    );
  }
  const polished = { unit2gpu: [...plan.unit2gpu], parts };
  return shareMakespan(problem, splits, polished) < shareMakespan(problem, splits, plan) ? polished : plan;
}

/**
 * Plans with one more part each: for every GPU, its largest unit able to take another part (an
 * unsplit unit while splits remain, or a split one below maxPartsPerHead) gets a part with a zero
 * share (for polishShares to fill) on the least loaded lighter GPU that may hold it.
 */
export function widerPlans(
  problem: LayerProblem,
  splits: LayerSplits,
  plan: SharePlan,
  sums: readonly number[],
): SharePlan[] {
  const gpus = problem.speeds.length;
  const load = (g: number) => sums[g] / problem.speeds[g];
  const held = new Array<number>(gpus).fill(0);
  plan.unit2gpu.forEach((g, u) => {
    const list = plan.parts.get(u);
    if (list) for (const p of list) held[p.gpu] += 1;
    else held[g] += 1;
  });
  const limitHeld = problem.minUnitsPerGpu < problem.maxUnitsPerGpu ? problem.maxUnitsPerGpu : Infinity;
  // An unsplit unit counts as one part while splits remain, and may take no more once they are spent.
  const partsOf = (u: number) => plan.parts.get(u)?.length ?? (plan.parts.size < splits.maxSplitHeads ? 1 : Infinity);
  const lightest = Array.from({ length: gpus }, (_, g) => g).sort((a, b) => load(a) - load(b) || a - b);
  const plans: SharePlan[] = [];
  for (let h = 0; h < gpus; h++) {
    const candidates = plan.unit2gpu
      .map((_, u) => u)
      .filter((u) => plan.unit2gpu[u] === h && (problem.unit2pin?.[u] ?? -1) < 0 && splits.units[u].variable > 0)
      .filter((u) => partsOf(u) < splits.maxPartsPerHead)
      .sort((a, b) => problem.costs[b] - problem.costs[a] || a - b);
    for (const u of candidates) {
      const list = plan.parts.get(u) ?? [{ gpu: h, share: 1 }];
      const taken = new Set(list.map((p) => p.gpu));
      const target = lightest.find((g) => !taken.has(g) && held[g] < limitHeld && load(g) < load(h));
      if (target === undefined) continue;
      const parts = new Map(plan.parts);
      parts.set(u, [...list, { gpu: target, share: 0 }]);
      plans.push({ unit2gpu: [...plan.unit2gpu], parts });
      break;
    }
  }
  return plans;
}
