/**
 * Held-out layers and an independent check of what the planner claims about them, shared by the
 * held-out test and `npm run bench:solver -- --kv`.
 *
 * The layers: real GQA shapes of models no profile here ships (query heads / KV heads), with
 * per-head costs drawn the way published profiles look (a few distinct budgets per layer:
 * MInference's vertical_slash sizes; DuoAttention's full versus streaming heads) and each stored
 * group paying a K/V projection of a third of a heavy head, given as explicit costs with
 * kvGroupSize.
 *
 * The check: an integer program written here with glpk.js's own objects (none of the solver's
 * code), in the configuration form because the plain binary one (x[u][g], y[k][g]) gives no verdict
 * on these sizes in 20 s: every way one GPU can take units (counted by group and cost) with its
 * load, group copies included, within a bound, and z[config] GPUs taking each, covering every unit
 * exactly, within the unit counts, the per-GPU group limit and the cap. A claimed optimum M is
 * refuted when it finds a placement with every load <= M (1 - 1e-5).
 */
import type { GLPK, LP } from 'glpk.js/node';
import { createRandom } from '../../../src/random.ts';
import type { ProblemSpec } from '../../../src/solver/problem.ts';
import type { LayerProblem } from '../../../src/solver/types.ts';

/** A model's shape and how its heads' costs look. */
export interface HeldOutModel {
  readonly name: string;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly kind: 'minference' | 'duo';
}

/** Shapes of models no profile ships (their configs' num_attention_heads / num_key_value_heads). */
export const HELD_OUT_MODELS: readonly HeldOutModel[] = [
  { name: 'Llama-3.2-3B-Instruct (MInference-like)', queryHeads: 24, kvHeads: 8, kind: 'minference' },
  { name: 'Qwen2-7B-Instruct (MInference-like)', queryHeads: 28, kvHeads: 4, kind: 'minference' },
  { name: 'GLM-4-9B-Chat (DuoAttention-like)', queryHeads: 32, kvHeads: 2, kind: 'duo' },
  { name: 'Mistral-Nemo-12B (DuoAttention-like)', queryHeads: 32, kvHeads: 8, kind: 'duo' },
];

/**
 * One layer of a held-out model as explicit costs: MInference-like heads take one of four
 * budgets (a heavy one and three light ones), DuoAttention-like heads are full (heavy) or
 * streaming (light); each group's copy costs a third of a heavy head.
 */
export function heldOutSpec(model: HeldOutModel, gpus: number, seed: number, maxKvCacheFactor?: number): ProblemSpec {
  const random = createRandom(seed);
  const heavy = 320;
  const light = model.kind === 'duo' ? [12] : [46, 48, 88];
  const costs = Array.from({ length: model.queryHeads }, () =>
    random() < 0.35 ? heavy : light[Math.floor(random() * light.length)],
  );
  return {
    headCosts: [costs],
    kvGroupSize: model.queryHeads / model.kvHeads,
    granularity: 'query-head',
    speeds: new Array<number>(gpus).fill(1),
    unitsPerGpu: { kind: 'equal' },
    groupCosts: [new Array<number>(model.kvHeads).fill(heavy / 3)],
    ...(maxKvCacheFactor !== undefined ? { maxKvCacheFactor } : {}),
  };
}

/**
 * Whether the independent MILP finds a placement of `problem` (identical GPUs, no pins, one phase)
 * with every load <= `below`: true (a claim of optimality at a makespan above `below` is refuted),
 * false (none exists), or null (GLPK stopped first: no verdict).
 */
export function independentMilpBeats(
  glpk: GLPK,
  problem: LayerProblem,
  below: number,
  timeLimitMs: number,
): boolean | null {
  const unit2group = problem.unit2group ?? problem.costs.map((_, u) => u);
  // Units alike: same group and cost.
  const classes = new Map<string, { group: number; cost: number; size: number }>();
  problem.costs.forEach((cost, u) => {
    const key = `${unit2group[u]}:${cost}`;
    const known = classes.get(key) ?? { group: unit2group[u], cost, size: 0 };
    known.size += 1;
    classes.set(key, known);
  });
  const list = [...classes.values()];
  const configs = gpuConfigs(problem, list, below * problem.speeds[0]);
  const gpus = problem.speeds.length;
  const z = (c: number) => `z${c}`;
  const rows: LP['subjectTo'] = list.map((cls, k) => ({
    name: `class${k}`,
    vars: configs.flatMap((config, c) => (config.counts[k] > 0 ? [{ name: z(c), coef: config.counts[k] }] : [])),
    bnds: { type: glpk.GLP_FX, lb: cls.size, ub: cls.size },
  }));
  rows.push({
    name: 'gpus',
    vars: configs.map((_, c) => ({ name: z(c), coef: 1 })),
    bnds: { type: glpk.GLP_FX, lb: gpus, ub: gpus },
  });
  if (problem.maxStoredGroups !== undefined)
    rows.push({
      name: 'cap',
      vars: configs.map((config, c) => ({ name: z(c), coef: config.groups })),
      bnds: { type: glpk.GLP_UP, lb: 0, ub: problem.maxStoredGroups },
    });
  if (configs.length === 0 || rows.some((row) => row.vars.length === 0)) return false;
  const lp: LP = {
    name: 'independent',
    objective: { direction: glpk.GLP_MIN, name: 'none', vars: [{ name: z(0), coef: 0 }] },
    subjectTo: rows,
    bounds: configs.map((_, c) => ({ name: z(c), type: glpk.GLP_DB, lb: 0, ub: gpus })),
    generals: configs.map((_, c) => z(c)),
  };
  const result = glpk.solve(lp, { msglev: glpk.GLP_MSG_OFF, tmlim: timeLimitMs / 1000, presol: true });
  if (result.result.status === glpk.GLP_NOFEAS) return false;
  if (result.result.status === glpk.GLP_OPT || result.result.status === glpk.GLP_FEAS) return true;
  return null;
}

/** Every way one GPU can take units of each class with its load (units and distinct groups' costs) <= room. */
function gpuConfigs(
  problem: LayerProblem,
  classes: readonly { group: number; cost: number; size: number }[],
  room: number,
) {
  const out: { counts: number[]; groups: number }[] = [];
  const counts = new Array<number>(classes.length).fill(0);
  const walk = (k: number, units: number, load: number, groups: Set<number>): void => {
    if (load > room) return;
    if (k === classes.length) {
      if (units >= problem.minUnitsPerGpu && units <= problem.maxUnitsPerGpu)
        out.push({ counts: [...counts], groups: groups.size });
      return;
    }
    for (let n = 0; n <= classes[k].size && units + n <= problem.maxUnitsPerGpu; n++) {
      const { group, cost } = classes[k];
      const opens = n > 0 && !groups.has(group);
      const next = new Set(groups);
      if (n > 0) next.add(group);
      if (next.size > (problem.maxGroupsPerGpu ?? Infinity)) break;
      counts[k] = n;
      walk(k + 1, units + n, load + n * cost + (opens ? (problem.groupCosts?.[group] ?? 0) : 0), next);
    }
    counts[k] = 0;
  };
  walk(0, 0, 0, new Set());
  return out;
}
