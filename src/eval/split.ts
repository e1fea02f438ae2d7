/**
 * Setting (f) and the flagship's split curve: S-HPLB with heads split by query rows. A part on
 * another GPU stores its head's KV group there, so splits need room above vLLM's own KV cache:
 * these plans have no KV-cache cap, and say the factor they reach.
 */
import type { Plan } from '../planner/plan.ts';
import type { SolverOptions } from '../planner/request.ts';
import type { Profile } from '../profiles/profile.ts';
import { fluidBound } from './loads.ts';
import type { EvalPlanner } from './plans.ts';

/** The KV-cache cap of split plans: none. */
const SPLIT_MAX_KV_CACHE_FACTOR = null;

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
  /** The KV-cache factor the plan reaches (its cap: none). */
  readonly kvCacheFactor: number;
  /** Largest extra K and V bytes one GPU holds for parts in any layer. */
  readonly maxExtraKvBytesPerGpu: number;
}

function summarise(plan: Plan, fluid: number): SplitEvaluation {
  return {
    maxSplitHeads: plan.splits?.maxSplitHeads ?? 0,
    partOverhead: plan.splits?.partOverhead ?? 0,
    attentionTime: plan.totals.makespan,
    overFluid: plan.totals.makespan / fluid,
    splitHeads: plan.totals.splitHeads ?? 0,
    layersProvenOptimal: plan.totals.layersProvenOptimal,
    kvCacheFactor: plan.totals.kvCacheFactor,
    maxExtraKvBytesPerGpu: Math.max(0, ...plan.layers.flatMap((layer) => layer.extraKvBytes ?? [])),
  };
}

/** The auto plan of a profile at `gpus`, no KV-cache cap, up to `maxSplitHeads` split heads per layer (0: none). */
function splitPlan(
  planner: EvalPlanner,
  profile: Profile,
  gpus: number,
  maxSplitHeads: number,
  solver: Omit<SolverOptions, 'engine'>,
): Promise<Plan> {
  return planner.plan(profile, {
    gpus,
    engine: 'auto',
    maxKvCacheFactor: SPLIT_MAX_KV_CACHE_FACTOR,
    maxSplitHeads,
    solver,
  });
}

/** (f): up to G - 1 split heads per layer, solved with `solver`'s limits, against the fluid bound `fluid` (e). */
export async function evaluateSplit(
  planner: EvalPlanner,
  profile: Profile,
  gpus: number,
  fluid: number,
  solver: Omit<SolverOptions, 'engine'>,
): Promise<{ evaluation: SplitEvaluation; solveMs: number }> {
  const plan = await splitPlan(planner, profile, gpus, gpus - 1, solver);
  return { evaluation: summarise(plan, fluid), solveMs: plan.totals.solveMs };
}

/** One point of the split curve: the model's attention time with up to maxSplitHeads split heads per layer. */
export interface SplitCurvePoint extends SplitEvaluation {
  readonly gpus: number;
}

/**
 * Attention time against maxSplitHeads = 0..G-1 for each of `gpuCounts` (0: S-HPLB without
 * splits), no KV-cache cap, solved with `solver`'s limits.
 */
export async function evaluateSplitCurve(
  planner: EvalPlanner,
  profile: Profile,
  gpuCounts: readonly number[],
  solver: Omit<SolverOptions, 'engine'>,
): Promise<SplitCurvePoint[]> {
  const points: SplitCurvePoint[] = [];
  for (const gpus of gpuCounts) {
    const fluid = fluidBound(planner.resolve(profile, { gpus, engine: 'auto' }).layers);
    for (let maxSplitHeads = 0; maxSplitHeads < gpus; maxSplitHeads++) {
      const plan = await splitPlan(planner, profile, gpus, maxSplitHeads, solver);
      points.push({ gpus, ...summarise(plan, fluid) });
    }
  }
  return points;
}
