/**
 * The KV-cache frontier of a profile at G GPUs: S-HPLB's prefill speedup over contiguous
 * placement at each KV-cache cap from vLLM's own (1.0) up to none. A layer's cap is
 * floor(factor x R0) KV heads stored, R0 being what contiguous placement stores in it, so the caps
 * that can change a plan are k / R0 for whole k: the curve tries k = R0, R0 + 1, ... and stops
 * where the plan is as fast as the one with no cap (or where no layer of that plan stores more).
 * Each point is a real plan, solved through the evaluation's planner (the first and last points
 * are the default column's and the unconstrained column's plans, solved once).
 */
import type { Plan } from '../planner/plan.ts';
import { DEFAULT_MAX_KV_CACHE_FACTOR } from '../planner/request.ts';
import type { Profile } from '../profiles/profile.ts';
import { cappedPlan, type CappedPlan, type EvalPlanner } from './plans.ts';

/** A point of the curve: a plan at one cap, and whether no other point is at least as good in both. */
export interface FrontierPoint extends CappedPlan {
  /** On the Pareto front: no point with a smaller or equal KV-cache factor is as fast. */
  readonly pareto: boolean;
}

export interface Frontier {
  readonly model: string;
  readonly gpus: number;
  /** KV heads contiguous placement stores per layer (R0); caps step by 1 / R0. */
  readonly contiguousKvHeadsPerLayer: number;
  /** In cap order, the last with no cap (maxKvCacheFactor null). */
  readonly points: readonly FrontierPoint[];
}

/** Relative makespan difference under which two plans count as equally fast. */
const SAME_MAKESPAN = 1e-9;

/** Marks the Pareto points: each is faster than every point of smaller or equal factor before it. */
export function markPareto(points: readonly CappedPlan[]): FrontierPoint[] {
  const order = points.map((_, i) => i).sort((a, b) => points[a].kvCacheFactor - points[b].kvCacheFactor || a - b);
  const pareto = new Array<boolean>(points.length).fill(false);
  let best = Number.POSITIVE_INFINITY;
  for (const i of order) {
    if (points[i].attentionTime < best * (1 - SAME_MAKESPAN)) {
      pareto[i] = true;
      best = points[i].attentionTime;
    }
  }
  return points.map((p, i) => ({ ...p, pareto: pareto[i] }));
}

const largestLayerStored = (plan: Plan): number => Math.max(...plan.layers.map((l) => l.kvHeadsStored ?? 0));

/**
 * The frontier of `profile` at `gpus` (query-head units, equal heads per GPU, the planner's
 * prefill workload). Throws the planner's HplbError when gpus does not divide the query heads.
 */
export async function evaluateFrontier(planner: EvalPlanner, profile: Profile, gpus: number): Promise<Frontier> {
  const at = (maxKvCacheFactor: number | null) => planner.plan(profile, { gpus, engine: 'auto', maxKvCacheFactor });
  const unconstrained = await at(null);
  const first = await at(DEFAULT_MAX_KV_CACHE_FACTOR);
  const layers = first.layers.length;
  const r0 = first.totals.contiguousKvHeadsStored / layers;
  const plans = [first];
  // No plan at a cap above the most any layer of the unconstrained plan stores differs from it.
  const last = largestLayerStored(unconstrained);
  for (let k = Math.round(r0 * DEFAULT_MAX_KV_CACHE_FACTOR) + 1; k < last; k++) {
    if (plans[plans.length - 1].totals.makespan <= unconstrained.totals.makespan * (1 + SAME_MAKESPAN)) break;
    plans.push(await at(k / r0));
  }
  plans.push(unconstrained);
  return {
    model: profile.id,
    gpus,
    contiguousKvHeadsPerLayer: r0,
    points: markPareto(plans.map(cappedPlan)),
  };
}

/**
 * The best point a cap allows: the fastest plan among the points whose own cap is at most `cap`
 * (any point for null, no cap), so a plan solved at a smaller cap counts for a larger one.
 */
export function bestWithin(frontier: Frontier, cap: number | null): FrontierPoint | undefined {
  const allowed = frontier.points.filter(
    (p) => cap === null || (p.maxKvCacheFactor !== null && p.maxKvCacheFactor <= cap * (1 + 1e-12)),
  );
  return allowed.reduce<FrontierPoint | undefined>(
    (best, p) => (best === undefined || p.attentionTime < best.attentionTime ? p : best),
    undefined,
  );
}
