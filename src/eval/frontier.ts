/**
 * The KV-cache frontier of a profile at G GPUs, as the service answers it
 * (GET /v1/models/{id}/frontier): S-HPLB's prefill speedup over contiguous placement at each cap
 * of the planner's grid that can bind (planner/frontier.ts, FRONTIER_CAPS) and with no cap, with
 * the Pareto points marked. Each point is a real plan solved through the evaluation's planner with
 * the evaluation's limits, so the default cap's point is the default column's plan and the no-cap
 * point the no-cap column's (solved once).
 */
import { frontierCaps, solveFrontier } from '../planner/frontier.ts';
import type { Plan } from '../planner/plan.ts';
import type { Profile } from '../profiles/profile.ts';
import { cappedPlan, type CappedPlan, type EvalPlanner } from './plans.ts';

/** A point of the curve: a plan at one cap, and whether it is a Pareto point. */
export interface FrontierPoint extends CappedPlan {
  /** No other point stores at most as much KV cache and is at least as fast, one of them strictly. */
  readonly pareto: boolean;
}

export interface Frontier {
  readonly model: string;
  readonly gpus: number;
  /** In cap order, the last with no cap (maxKvCacheFactor null). */
  readonly points: readonly FrontierPoint[];
}

/**
 * The frontier of `profile` at `gpus` (query-head units, equal heads per GPU, the planner's
 * prefill workload and limits). Throws the planner's HplbError when gpus does not divide the
 * query heads.
 */
export async function evaluateFrontier(planner: EvalPlanner, profile: Profile, gpus: number): Promise<Frontier> {
  const { queryHeads, kvHeads } = profile.architecture;
  const caps = frontierCaps({
    queryHeads,
    kvHeads,
    gpus,
    granularity: 'query-head',
    maxHeadsPerGpu: queryHeads / gpus,
  });
  const base = planner.request(profile, { gpus, engine: 'auto' });
  const solver = base.solver!;
  // Each point gets the plan limits of the other columns (solveFrontier shares its time evenly).
  const byId = new Map<string, Plan>();
  const points = await solveFrontier(base, caps, solver.timeLimitMs! * caps.length, async (request) => {
    const plan = await planner.planRequest(profile, request);
    byId.set(plan.id, plan);
    return { id: plan.id, layers: plan.layers.length, totals: plan.totals };
  });
  return {
    model: profile.id,
    gpus,
    points: points.map((p) => ({ ...cappedPlan(byId.get(p.planId)!), pareto: p.pareto })),
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
