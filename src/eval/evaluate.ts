/**
 * The evaluation of issue "how much does it help?": for one profile and one GPU count, the model's
 * attention time (sum of layer makespans, in the cost model's unit) under four settings and the
 * fluid limit. Pure apart from the layer runner it is given: no files, no clock in its answers.
 *
 *   uniformContiguous  (a) every head of a layer gets the layer's largest budget, contiguous placement
 *   adaptiveContiguous (b) the profile's per-head budgets, contiguous placement
 *   adaptiveGreedy     (c) per-head budgets, greedy (largest first onto the least loaded GPU with room)
 *   adaptiveAuto       (d) per-head budgets, the auto engine (S-HPLB: greedy, exact search, GLPK ILP)
 *   fluidBound         (e) sum over layers of (adaptive head costs + one copy of each KV group's cost) / G:
 *                          no placement can beat it
 *   split              (f) per-head budgets, S-HPLB with up to G - 1 heads per layer split by query
 *                          rows (two parts each, the cost model's per-part overhead)
 */
import type { CostModel, Workload } from '../cost/cost-model.ts';
import type { LayerRunner } from '../planner/layer-task.ts';
import type { EngineName, Plan } from '../planner/plan.ts';
import { resolveRequest, type PlanRequest, type ResolvedRequest, type SolverOptions } from '../planner/request.ts';
import { solvePlan } from '../planner/solve-plan.ts';
import { fluidTotalOf } from '../planner/split-plan.ts';
import type { Profile } from '../profiles/profile.ts';
import { contiguousAssignment } from '../solver/engines/contiguous.ts';
import { gpuLoadsOf } from '../solver/layer-result.ts';
import type { LayerProblem } from '../solver/types.ts';
import { bubbleRatio } from '../../public/plan-math.js';
import { uniformProfile } from './uniform.ts';

/** The settings that place heads, in the order (a) to (d). */
export const SETTINGS = ['uniformContiguous', 'adaptiveContiguous', 'adaptiveGreedy', 'adaptiveAuto'] as const;
export type Setting = (typeof SETTINGS)[number];

/** What every evaluation shares: the cost model, the workload, the KV cap and the solver limits of the auto engine. */
export interface EvalContext {
  readonly costModel: CostModel;
  readonly workload: Workload;
  /** constraints.maxKvCacheFactor of every plan (null: no cap). */
  readonly maxKvCacheFactor: number | null;
  /** Limits and tolerance of the auto runs (engine is set per setting). */
  readonly solver: Omit<SolverOptions, 'engine'>;
  readonly runner: LayerRunner;
}

/** One profile at one GPU count. Times are in the cost model's unit; ratios are plain numbers. */
export interface ProfileEvaluation {
  readonly model: {
    readonly id: string;
    readonly displayName: string;
    readonly version: string;
    readonly layers: number;
    readonly queryHeads: number;
    readonly kvHeads: number;
  };
  readonly gpus: number;
  /** Sum of layer makespans of each setting, plus the fluid bound. */
  readonly attentionTime: Readonly<Record<Setting | 'fluidBound', number>>;
  /** Mean over layers of the layer's bubble ratio, 1 - mean GPU load / makespan. */
  readonly meanBubbleRatio: Readonly<Record<Setting, number>>;
  /** (a)/(d), (b)/(d), (c)/(d) and (d)/(e). */
  readonly speedup: {
    readonly uniformOverAuto: number;
    readonly contiguousOverAuto: number;
    readonly greedyOverAuto: number;
    readonly autoOverFluid: number;
  };
  /** Sum of the auto plan's layer lower bounds, and its relative gap. */
  readonly autoLowerBound: number;
  readonly autoGap: number;
  readonly layersProvenOptimal: number;
  /** Layers of the auto plan by status, keys sorted. */
  readonly autoStatusCounts: Readonly<Record<string, number>>;
  /** (f): the auto engine with split heads. */
  readonly split: SplitEvaluation;
}

/** A plan with split heads, summarised. */
export interface SplitEvaluation {
  readonly maxSplitHeads: number;
  /** Per-part overhead used, in the cost unit. */
  readonly partOverhead: number;
  /** Sum of layer makespans. */
  readonly attentionTime: number;
  /** attentionTime / fluid bound (e). */
  readonly overFluid: number;
  /** Heads split, summed over layers. */
  readonly splitHeads: number;
  readonly layersProvenOptimal: number;
  /** Largest extra K and V bytes one GPU holds for parts in any layer. */
  readonly maxExtraKvBytesPerGpu: number;
}

/** Wall-clock solve time of the plans that are solved (contiguous placement is not), ms: machine-dependent, reported apart. */
export interface EvaluationTimings {
  readonly model: string;
  readonly gpus: number;
  readonly solveMs: { readonly adaptiveGreedy: number; readonly adaptiveAuto: number; readonly split: number };
}

/** An evaluation with the per-layer loads it came from (for the plots), the auto plan and the timings. */
export interface EvaluationRun {
  readonly evaluation: ProfileEvaluation;
  /** [layers][gpus] load of each GPU under each setting, in the cost unit. */
  readonly loads: Readonly<Record<Setting, number[][]>>;
  readonly autoPlan: Plan;
  readonly timings: EvaluationTimings;
}

/** GPU counts of `candidates` that divide the profile's query heads (equal heads per GPU). */
export function dividingGpuCounts(profile: Profile, candidates: readonly number[]): number[] {
  return candidates.filter((g) => profile.architecture.queryHeads % g === 0);
}

/** Sum over layers of the layer makespan (its largest GPU load); loads are [layers][gpus]. */
export function attentionTime(loads: readonly (readonly number[])[]): number {
  return loads.reduce((s, layer) => s + Math.max(...layer), 0);
}

/** Mean over layers of 1 - mean GPU load / makespan (0 for an idle layer); loads are [layers][gpus]. */
export function meanLayerBubble(loads: readonly (readonly number[])[]): number {
  const bubbles = loads.map((layer) =>
    bubbleRatio(layer.reduce((s, x) => s + x, 0) / layer.length, Math.max(...layer)),
  );
  return bubbles.reduce((s, x) => s + x, 0) / bubbles.length;
}

/**
 * [layers][gpus] loads of contiguous placement in the model's own head order. Plans carry only
 * each layer's contiguous makespan; the flagship plot and the uniform setting need every GPU's load.
 */
export function contiguousLoads(layers: readonly LayerProblem[]): number[][] {
  return layers.map((problem) => gpuLoadsOf(problem, contiguousAssignment(problem)));
}

/**
 * Evaluates one profile at `gpus` GPUs: query-head units, equal heads per GPU. Throws the
 * planner's HplbError when gpus does not divide the query heads.
 */
export async function evaluateProfile(profile: Profile, gpus: number, context: EvalContext): Promise<EvaluationRun> {
  const planning = { resolveProfile: () => profile, resolveCostModel: () => context.costModel };
  const common = {
    gpus: { count: gpus },
    granularity: 'query-head',
    constraints: { unitsPerGpu: 'equal', maxKvCacheFactor: context.maxKvCacheFactor },
    workload: context.workload,
  } as const;
  const resolve = (source: Pick<PlanRequest, 'model' | 'profile'>, engine: EngineName): ResolvedRequest =>
    resolveRequest({ ...common, ...source, solver: { ...context.solver, engine } }, planning);
  const uniform = resolve({ profile: uniformProfile(profile, context.workload.seqLen) }, 'contiguous');
  const adaptive = resolve({ model: profile.id }, 'auto');
  const greedyPlan = await solvePlan(resolve({ model: profile.id }, 'greedy'), context.runner);
  const autoPlan = await solvePlan(adaptive, context.runner);
  const splitPlan = await solveSplitPlan(profile, gpus, gpus - 1, context);
  const planLoads = (plan: Plan): number[][] => plan.layers.map((layer) => [...layer.gpuLoads]);

  const loads: Record<Setting, number[][]> = {
    uniformContiguous: contiguousLoads(uniform.layers),
    adaptiveContiguous: contiguousLoads(adaptive.layers),
    adaptiveGreedy: planLoads(greedyPlan),
    adaptiveAuto: planLoads(autoPlan),
  };
  const time = (s: Setting): number => attentionTime(loads[s]);
  const fluidBound = fluidTotalOf(adaptive.layers);
  const statusCounts: Record<string, number> = {};
  for (const status of autoPlan.layers.map((layer) => layer.status).sort())
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
  const { layers, queryHeads, kvHeads } = profile.architecture;
  const evaluation: ProfileEvaluation = {
    model: { id: profile.id, displayName: profile.displayName, version: profile.version, layers, queryHeads, kvHeads },
    gpus,
    attentionTime: {
      uniformContiguous: time('uniformContiguous'),
      adaptiveContiguous: time('adaptiveContiguous'),
      adaptiveGreedy: time('adaptiveGreedy'),
      adaptiveAuto: time('adaptiveAuto'),
      fluidBound,
    },
    meanBubbleRatio: {
      uniformContiguous: meanLayerBubble(loads.uniformContiguous),
      adaptiveContiguous: meanLayerBubble(loads.adaptiveContiguous),
      adaptiveGreedy: meanLayerBubble(loads.adaptiveGreedy),
      adaptiveAuto: meanLayerBubble(loads.adaptiveAuto),
    },
    speedup: {
      uniformOverAuto: time('uniformContiguous') / time('adaptiveAuto'),
      contiguousOverAuto: time('adaptiveContiguous') / time('adaptiveAuto'),
      greedyOverAuto: time('adaptiveGreedy') / time('adaptiveAuto'),
      autoOverFluid: time('adaptiveAuto') / fluidBound,
    },
    autoLowerBound: autoPlan.totals.lowerBound,
    autoGap: autoPlan.totals.gap,
    layersProvenOptimal: autoPlan.totals.layersProvenOptimal,
    autoStatusCounts: statusCounts,
    split: summariseSplitPlan(splitPlan, fluidBound),
  };
  return {
    evaluation,
    loads,
    autoPlan,
    timings: {
      model: profile.id,
      gpus,
      solveMs: {
        adaptiveGreedy: greedyPlan.totals.solveMs,
        adaptiveAuto: autoPlan.totals.solveMs,
        split: splitPlan.totals.solveMs,
      },
    },
  };
}

/** The auto plan of a profile at `gpus` with up to `maxSplitHeads` split heads per layer (0: none). */
async function solveSplitPlan(
  profile: Profile,
  gpus: number,
  maxSplitHeads: number,
  context: EvalContext,
): Promise<Plan> {
  return solvePlan(resolveSplitRequest(profile, gpus, maxSplitHeads, context), context.runner);
}

/** The auto request of a profile at `gpus` with up to `maxSplitHeads` split heads per layer (0: none). */
function resolveSplitRequest(
  profile: Profile,
  gpus: number,
  maxSplitHeads: number,
  context: EvalContext,
): ResolvedRequest {
  const planning = { resolveProfile: () => profile, resolveCostModel: () => context.costModel };
  const splits = maxSplitHeads > 0 ? { splits: { maxSplitHeads } } : {};
  const request: PlanRequest = {
    model: profile.id,
    gpus: { count: gpus },
    granularity: 'query-head',
    constraints: { unitsPerGpu: 'equal', maxKvCacheFactor: context.maxKvCacheFactor, ...splits },
    workload: context.workload,
    solver: { ...context.solver, engine: 'auto' },
  };
  return resolveRequest(request, planning);
}

function summariseSplitPlan(plan: Plan, fluidBound: number): SplitEvaluation {
  return {
    maxSplitHeads: plan.splits?.maxSplitHeads ?? 0,
    partOverhead: plan.splits?.partOverhead ?? 0,
    attentionTime: plan.totals.makespan,
    overFluid: plan.totals.makespan / fluidBound,
    splitHeads: plan.totals.splitHeads ?? 0,
    layersProvenOptimal: plan.totals.layersProvenOptimal,
    maxExtraKvBytesPerGpu: Math.max(0, ...plan.layers.flatMap((layer) => layer.extraKvBytes ?? [])),
  };
}

/** One point of the split curve: the model's attention time with up to maxSplitHeads split heads per layer. */
export interface SplitCurvePoint extends SplitEvaluation {
  readonly gpus: number;
}

/** Attention time against maxSplitHeads = 0..G-1 for each of `gpuCounts` (0: S-HPLB without splits). */
export async function evaluateSplitCurve(
  profile: Profile,
  gpuCounts: readonly number[],
  context: EvalContext,
): Promise<SplitCurvePoint[]> {
  const points: SplitCurvePoint[] = [];
  for (const gpus of gpuCounts) {
    const fluid = fluidTotalOf(resolveSplitRequest(profile, gpus, 0, context).layers);
    for (let maxSplitHeads = 0; maxSplitHeads < gpus; maxSplitHeads++) {
      const plan = await solveSplitPlan(profile, gpus, maxSplitHeads, context);
      points.push({ gpus, ...summariseSplitPlan(plan, fluid) });
    }
  }
  return points;
}

/**
 * Evaluates each profile at each of `gpuCounts` that divides its query heads, one after another
 * (the runner decides how layers run). `onRun` sees each run as it finishes, e.g. for progress.
 */
export async function evaluateProfiles(
  profiles: readonly Profile[],
  gpuCounts: readonly number[],
  context: EvalContext,
  onRun?: (run: EvaluationRun) => void,
): Promise<EvaluationRun[]> {
  const runs: EvaluationRun[] = [];
  for (const profile of profiles) {
    for (const gpus of dividingGpuCounts(profile, gpuCounts)) {
      const run = await evaluateProfile(profile, gpus, context);
      onRun?.(run);
      runs.push(run);
    }
  }
  return runs;
}
