/**
 * The evaluation of "how much does it help?": for one profile and one GPU count, the model's
 * prefill attention time (sum of layer makespans, in the cost model's unit) under each setting,
 * at the service's default KV-cache cap (DEFAULT_MAX_KV_CACHE_FACTOR: no plan stores more KV heads
 * than vLLM's contiguous placement), beside the plans that may store more. Pure apart from the
 * layer runner it is given: no files, no clock in its answers.
 *
 *   uniformContiguous  (a) every head of a layer gets the layer's largest budget, contiguous placement
 *   adaptiveContiguous (b) the profile's per-head budgets, contiguous placement
 *   adaptiveGreedy     (c) per-head budgets, greedy (largest first onto the least loaded GPU with room)
 *   adaptiveAuto       (d) per-head budgets, the auto engine (S-HPLB)
 *   fluidBound         (e) sum over layers of (every head + every KV group once) / G: no placement beats it
 *   unconstrained          per-head budgets, S-HPLB with no KV-cache cap
 *   split              (f) per-head budgets, S-HPLB with no KV-cache cap and up to G - 1 heads per
 *                          layer split by query rows (split.ts)
 *   decode, mix            the decode and mixed columns, in a roofline's time (phases.ts)
 */
import type { Plan } from '../planner/plan.ts';
import { DEFAULT_MAX_KV_CACHE_FACTOR } from '../planner/request.ts';
import type { Profile } from '../profiles/profile.ts';
import { attentionTime, contiguousLoads, dividingGpuCounts, fluidBound, meanLayerBubble } from './loads.ts';
import { decodeRatios, evaluatePhases, mixEvaluation, type DecodeEvaluation, type MixEvaluation } from './phases.ts';
import { cappedPlan, type CappedPlan, type EvalPlanner } from './plans.ts';
import { SPLIT_SOLVER } from './settings.ts';
import { evaluateSplit, type SplitEvaluation } from './split.ts';

/** The settings that place heads at the default cap, in the order (a) to (d). */
export const SETTINGS = ['uniformContiguous', 'adaptiveContiguous', 'adaptiveGreedy', 'adaptiveAuto'] as const;
export type Setting = (typeof SETTINGS)[number];

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
  /** The KV-cache cap of settings (a) to (d): the service's default. */
  readonly maxKvCacheFactor: number;
  /** Sum of layer makespans of each setting, plus the fluid bound. */
  readonly attentionTime: Readonly<Record<Setting | 'fluidBound', number>>;
  /** Mean over layers of the layer's bubble ratio, 1 - mean GPU load / makespan. */
  readonly meanBubbleRatio: Readonly<Record<Setting, number>>;
  /** KV-cache factor of each setting's placement (contiguous placement is 1 by definition). */
  readonly kvCacheFactor: Readonly<Record<Setting, number>>;
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
  /** The auto engine with no KV-cache cap. */
  readonly unconstrained: CappedPlan;
  /** (f): the auto engine with split heads and no KV-cache cap. */
  readonly split: SplitEvaluation;
  /** Decode at the evaluation's length, in the roofline's time. */
  readonly decode: DecodeEvaluation;
  /** One prefill and many decode steps, in the roofline's time. */
  readonly mix: MixEvaluation;
}

/** Wall-clock solve time of the plans that are solved, ms: machine-dependent, reported apart. */
export interface EvaluationTimings {
  readonly model: string;
  readonly gpus: number;
  readonly solveMs: Readonly<Record<string, number>>;
}

/** An evaluation with the per-layer loads it came from (for the plots) and the timings. */
export interface EvaluationRun {
  readonly evaluation: ProfileEvaluation;
  /** [layers][gpus] load of each GPU under each setting and with no cap, in the cost unit. */
  readonly loads: Readonly<Record<Setting | 'unconstrained', number[][]>>;
  readonly timings: EvaluationTimings;
}

const planLoads = (plan: Plan): number[][] => plan.layers.map((layer) => [...layer.gpuLoads]);

function statusCounts(plan: Plan): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const status of plan.layers.map((layer) => layer.status).sort()) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** What the default cap's settings (a) to (e) give: the part of a ProfileEvaluation they fill. */
export type DefaultCapEvaluation = Omit<ProfileEvaluation, 'unconstrained' | 'split' | 'decode' | 'mix'>;

/**
 * Settings (a) to (e) of a profile at `gpus`, at the default cap: their figures, loads and the
 * greedy and auto plans.
 */
export async function evaluateDefaultCap(
  planner: EvalPlanner,
  profile: Profile,
  gpus: number,
): Promise<{ evaluation: DefaultCapEvaluation; loads: Record<Setting, number[][]>; greedy: Plan; auto: Plan }> {
  const uniform = planner.resolve(profile, { gpus, engine: 'contiguous', uniformBudgets: true });
  const adaptive = planner.resolve(profile, { gpus, engine: 'auto' });
  const greedy = await planner.plan(profile, { gpus, engine: 'greedy' });
  const auto = await planner.plan(profile, { gpus, engine: 'auto' });
  const loads: Record<Setting, number[][]> = {
    uniformContiguous: contiguousLoads(uniform.layers),
    adaptiveContiguous: contiguousLoads(adaptive.layers),
    adaptiveGreedy: planLoads(greedy),
    adaptiveAuto: planLoads(auto),
  };
  const time = (s: Setting): number => attentionTime(loads[s]);
  const fluid = fluidBound(adaptive.layers);
  const { layers, queryHeads, kvHeads } = profile.architecture;
  const evaluation: DefaultCapEvaluation = {
    model: { id: profile.id, displayName: profile.displayName, version: profile.version, layers, queryHeads, kvHeads },
    gpus,
    maxKvCacheFactor: DEFAULT_MAX_KV_CACHE_FACTOR,
    attentionTime: {
      uniformContiguous: time('uniformContiguous'),
      adaptiveContiguous: time('adaptiveContiguous'),
      adaptiveGreedy: time('adaptiveGreedy'),
      adaptiveAuto: time('adaptiveAuto'),
      fluidBound: fluid,
    },
    meanBubbleRatio: {
      uniformContiguous: meanLayerBubble(loads.uniformContiguous),
      adaptiveContiguous: meanLayerBubble(loads.adaptiveContiguous),
      adaptiveGreedy: meanLayerBubble(loads.adaptiveGreedy),
      adaptiveAuto: meanLayerBubble(loads.adaptiveAuto),
    },
    kvCacheFactor: {
      uniformContiguous: 1,
      adaptiveContiguous: 1,
      adaptiveGreedy: greedy.totals.kvCacheFactor,
      adaptiveAuto: auto.totals.kvCacheFactor,
    },
    speedup: {
      uniformOverAuto: time('uniformContiguous') / time('adaptiveAuto'),
      contiguousOverAuto: time('adaptiveContiguous') / time('adaptiveAuto'),
      greedyOverAuto: time('adaptiveGreedy') / time('adaptiveAuto'),
      autoOverFluid: time('adaptiveAuto') / fluid,
    },
    autoLowerBound: auto.totals.lowerBound,
    autoGap: auto.totals.gap,
    layersProvenOptimal: auto.totals.layersProvenOptimal,
    autoStatusCounts: statusCounts(auto),
  };
  return { evaluation, loads, greedy, auto };
}

/**
 * Evaluates one profile at `gpus` GPUs: query-head units, equal heads per GPU. Throws the
 * planner's HplbError when gpus does not divide the query heads. Plans come from `planner`
 * (one per run, so that equal plans are solved once).
 */
export async function evaluateProfile(planner: EvalPlanner, profile: Profile, gpus: number): Promise<EvaluationRun> {
  const atDefault = await evaluateDefaultCap(planner, profile, gpus);
  const unconstrained = await planner.plan(profile, { gpus, engine: 'auto', maxKvCacheFactor: null });
  const split = await evaluateSplit(
    planner,
    profile,
    gpus,
    atDefault.evaluation.attentionTime.fluidBound,
    SPLIT_SOLVER,
  );
  const phases = await evaluatePhases(planner, profile, gpus);
  const unit2gpu = (plan: Plan) => plan.layers.map((layer) => layer.unit2gpu);
  const [adaptiveAuto, free] = decodeRatios(planner, profile, gpus, [
    unit2gpu(atDefault.auto),
    unit2gpu(unconstrained),
  ]);
  const evaluation: ProfileEvaluation = {
    ...atDefault.evaluation,
    unconstrained: cappedPlan(unconstrained),
    split: split.evaluation,
    decode: { plan: cappedPlan(phases.decode), prefillPlacements: { adaptiveAuto, unconstrained: free } },
    mix: mixEvaluation(phases.mix),
  };
  const solveMs: Record<string, number> = {
    adaptiveGreedy: atDefault.greedy.totals.solveMs,
    adaptiveAuto: atDefault.auto.totals.solveMs,
    unconstrained: unconstrained.totals.solveMs,
    split: split.solveMs,
    decode: phases.decode.totals.solveMs,
    mix: phases.mix.totals.solveMs,
  };
  return {
    evaluation,
    loads: { ...atDefault.loads, unconstrained: planLoads(unconstrained) },
    timings: { model: profile.id, gpus, solveMs },
  };
}

/**
 * Evaluates each profile at each of `gpuCounts` that divides its query heads, one after another,
 * with one planner for the whole run. `onRun` sees each run as it finishes, e.g. for progress.
 */
export async function evaluateProfiles(
  planner: EvalPlanner,
  profiles: readonly Profile[],
  gpuCounts: readonly number[],
  onRun?: (run: EvaluationRun) => void,
): Promise<EvaluationRun[]> {
  const runs: EvaluationRun[] = [];
  for (const profile of profiles) {
    for (const gpus of dividingGpuCounts(profile, gpuCounts)) {
      const run = await evaluateProfile(planner, profile, gpus);
      onRun?.(run);
      runs.push(run);
    }
  }
  return runs;
}
