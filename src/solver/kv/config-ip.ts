/**
 * The configuration integer program of a KV layer on identical GPUs without pins (Gilmore and
 * Gomory's cutting-stock model): every configuration of one GPU (counts of each class of
 * identical units, with its copies' costs) whose load is within the target is listed here, exactly,
 * and GLPK picks how many GPUs take each: z_c >= 0 integer, sum_c z_c = G, every class covered
 * exactly, sum_c z_c copies_c within the cap. GPUs are counted, not labelled, so their symmetry is
 * gone, and the data are small integers: GLPK's "none" is a proof, and its optimum of the copies
 * (the second objective) is exact. Its relaxation is far stronger than the assignment model's.
 */
import type { GLPK } from 'glpk.js/node';
import { type AggregatedLayer, disaggregate } from '../aggregate.ts';
import type { Decision } from '../engines/target-search.ts';
import { type GpuConfig, listGpuConfigs } from '../engines/config-list.ts';
import { type Term, createGlpkModel, solveModel } from '../glpk-model.ts';
import { roundingSlack } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';

/**
 * GLPK's overrun on this model (a few thousand columns, a few dozen rows, built in a millisecond
 * or two): its time limit is the turn's less this.
 */
const CONFIG_IP_OVERHEAD_MS = 5;

/** Most configurations listed; beyond it the program is not built (undecided). */
const MOST_CONFIGS = 15_000;

/** Where the program applies: identical GPUs, no pins, one phase. */
export function configIpApplies(problem: LayerProblem): boolean {
  return !problem.unit2pin && !problem.phases && problem.speeds.every((s) => s === problem.speeds[0]);
}

/** What the program decides, over the configurations listed for its target. */
export interface ConfigIpQuestion {
  /** Most KV heads stored (besides the problem's cap). */
  readonly storedLimit?: number;
  /** Minimise the copies (the second objective) instead of any answer. */
  readonly fewestCopies?: boolean;
  readonly timeLimitMs: number;
}

/**
 * A placement made of `configs` (the configurations within some target: listConfigs), with the
 * copies within the limits; null when none exists; 'timeout' when GLPK stopped first. With
 * fewestCopies, `optimal` says the placement stores the fewest copies any placement of those
 * configurations can.
 */
export function solveConfigs(
  glpk: GLPK,
  problem: LayerProblem,
  layer: AggregatedLayer,
  configs: readonly GpuConfig[],
  question: ConfigIpQuestion,
): { decision: Decision; optimal: boolean } {
  if (configs.length === 0) return { decision: null, optimal: true };
  const gpus = problem.speeds.length;
  const z = (c: number) => `z_${c}`;
  const model = createGlpkModel(glpk, `configs_${problem.layer}`);
  configs.forEach((_, c) => model.integer(z(c), 0, gpus));
  const covering: Term[][] = layer.classes.map(() => []);
  configs.forEach((cfg, c) => {
    for (const [k, n] of cfg.entries) covering[k].push({ name: z(c), coef: n });
  });
  layer.classes.forEach((cls, k) => model.row(`class_${k}`, covering[k], cls.units.length, cls.units.length));
  model.row(
    'gpus',
    configs.map((_, c) => ({ name: z(c), coef: 1 })),
    gpus,
    gpus,
  );
  const limit = Math.min(problem.maxStoredGroups ?? Infinity, question.storedLimit ?? Infinity);
  const copies = configs.map((cfg, c) => ({ name: z(c), coef: cfg.copies }));
  if (Number.isFinite(limit)) model.row('cap', copies, -Infinity, limit);
  model.minimise(question.fewestCopies ? copies : [{ name: z(0), coef: 0 }]);
  const answer = solveModel(glpk, model.build(), {
    timeLimitMs: question.timeLimitMs,
    overheadMs: CONFIG_IP_OVERHEAD_MS,
  });
  if (answer.status === 'infeasible') return { decision: null, optimal: true };
  if (answer.status !== 'optimal' && answer.status !== 'feasible') return { decision: 'timeout', optimal: false };
  const byGpu: number[][] = [];
  configs.forEach((cfg, c) => {
    for (let i = Math.round(answer.vars[z(c)] ?? 0); i > 0; i--) byGpu.push([...cfg.counts]);
  });
  if (byGpu.length !== gpus) return { decision: 'timeout', optimal: false };
  return { decision: disaggregate(problem, layer, byGpu), optimal: answer.status === 'optimal' };
}

/**
 * Every configuration of one GPU within the target (engines/config-list.ts), its rounding slack
 * (roundingSlack) included so that none within the target is lost to rounding. Null beyond
 * MOST_CONFIGS.
 */
export function listConfigs(problem: LayerProblem, layer: AggregatedLayer, target: number): GpuConfig[] | null {
  const groupCosts = problem.groupCosts ?? [];
  const room = target * problem.speeds[0];
  const total = layer.classes.reduce((s, c) => s + c.cost * c.units.length, 0) + groupCosts.reduce((s, c) => s + c, 0);
  const slack = roundingSlack(2 * problem.costs.length + groupCosts.length + 8, total + Math.abs(room));
  return listGpuConfigs(problem, layer, {
    room: room + slack,
    minUnits: problem.minUnitsPerGpu,
    maxUnits: problem.maxUnitsPerGpu,
    maxGroups: problem.maxGroupsPerGpu ?? Infinity,
    most: MOST_CONFIGS,
  });
}
