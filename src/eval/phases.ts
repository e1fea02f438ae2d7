/**
 * The decode and mixed columns, in the time of a roofline (EVAL_TIME_COST_MODEL, the planner's
 * default for them): a decode step reads the K/V cache of every group a GPU stores, so decode
 * time follows the KV heads stored, and a mix weighs one prefill against many decode steps.
 * Also what the prefill plans' placements do to decode: their decode time against contiguous
 * placement's.
 */
import type { Plan } from '../planner/plan.ts';
import { DEFAULT_MAX_KV_CACHE_FACTOR } from '../planner/request.ts';
import type { Profile } from '../profiles/profile.ts';
import { contiguousPlacement } from '../solver/engines/contiguous.ts';
import { makespanOf } from '../solver/layer-result.ts';
import { sum } from '../solver/problem.ts';
import { cappedPlan, type CappedPlan, type EvalPlanner } from './plans.ts';
import { EVAL_DECODE, EVAL_MIX } from './settings.ts';

export interface DecodeEvaluation {
  /** S-HPLB's decode plan at the default cap. */
  readonly plan: CappedPlan;
  /**
   * Decode attention time of contiguous placement over that of each prefill plan's placement
   * (the default cap's (d), and the one with no cap): below 1, the placement slows decode down.
   */
  readonly prefillPlacements: { readonly adaptiveAuto: number; readonly unconstrained: number };
}

export interface MixEvaluation {
  /** S-HPLB's plan of the mix at the default cap: its attention time is the weighted sum of its phases'. */
  readonly plan: CappedPlan;
  /** Per phase of the mix: the plan's speedup over contiguous placement in that phase alone. */
  readonly phases: readonly {
    readonly phase: string;
    readonly seqLen: number;
    readonly weight: number;
    readonly speedupVsContiguous: number | null;
  }[];
}

/**
 * Decode time of contiguous placement over that of each placement ([layers][units] unit2gpu),
 * priced by the decode problem of the profile at `gpus` (no cap: the placements are given).
 */
export function decodeRatios(
  planner: EvalPlanner,
  profile: Profile,
  gpus: number,
  placements: readonly (readonly (readonly number[])[])[],
): number[] {
  const problems = planner.resolve(profile, {
    gpus,
    engine: 'contiguous',
    maxKvCacheFactor: null,
    workload: EVAL_DECODE,
  }).layers;
  const contiguous = sum(problems.map((p) => makespanOf(p, contiguousPlacement(p))));
  return placements.map((unit2gpu) => contiguous / sum(problems.map((p, l) => makespanOf(p, unit2gpu[l]))));
}

/** S-HPLB's decode plan and mix plan of a profile at `gpus`, at the default cap. */
export async function evaluatePhases(
  planner: EvalPlanner,
  profile: Profile,
  gpus: number,
): Promise<{ decode: Plan; mix: Plan }> {
  const at = { gpus, engine: 'auto', maxKvCacheFactor: DEFAULT_MAX_KV_CACHE_FACTOR } as const;
  const decode = await planner.plan(profile, { ...at, workload: EVAL_DECODE });
  const mix = await planner.plan(profile, { ...at, workload: { mix: EVAL_MIX } });
  return { decode, mix };
}

/** A mix plan's facts, with each phase's speedup. */
export function mixEvaluation(mix: Plan): MixEvaluation {
  return {
    plan: cappedPlan(mix),
    phases: (mix.totals.phases ?? []).map(({ phase, seqLen, weight, speedupVsContiguous }) => ({
      phase,
      seqLen,
      weight,
      speedupVsContiguous,
    })),
  };
}
