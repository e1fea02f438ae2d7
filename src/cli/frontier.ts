/**
 * `plan --frontier`: the request the flags stand for, solved at every KV-cache cap that can bind
 * (planner/frontier.ts) on the CLI's runner, and the table of its points.
 */
import { frontierCaps, solveFrontier, type FrontierPoint } from '../planner/frontier.ts';
import type { LayerRunner } from '../planner/layer-task.ts';
import { normalisePlanRequest, type NormaliseOptions, type PlanRequest } from '../planner/request.ts';
import { solvePlan } from '../planner/solve-plan.ts';
import { times, timesOrNa } from '../eval/format.ts';
import { textTable } from './format.ts';

export interface CliFrontier {
  readonly timeLimitMsPerPoint: number;
  readonly points: FrontierPoint[];
}

/** The frontier of the request in `body` (its own cap is replaced at each point). */
export async function cliFrontier(body: unknown, options: NormaliseOptions, runner: LayerRunner): Promise<CliFrontier> {
  const { request, resolved } = normalisePlanRequest(body, options);
  const first = resolved.layers[0];
  const queryHeads = first.costs.length * (resolved.granularity === 'kv-group' ? resolved.kvGroupSize : 1);
  const caps = frontierCaps({
    queryHeads,
    kvHeads: queryHeads / resolved.kvGroupSize,
    gpus: resolved.speeds.length,
    granularity: resolved.granularity,
    maxHeadsPerGpu: first.maxUnitsPerGpu * (resolved.granularity === 'kv-group' ? resolved.kvGroupSize : 1),
  });
  const timeLimitMs = resolved.solver.timeLimitMs;
  const plan = async (point: PlanRequest) => {
    const solved = await solvePlan(normalisePlanRequest(point, options).resolved, runner);
    return { id: solved.id, layers: solved.layers.length, totals: solved.totals };
  };
  const points = await solveFrontier(request, caps, timeLimitMs, plan);
  return { timeLimitMsPerPoint: Math.max(1, Math.floor(timeLimitMs / caps.length)), points };
}

/** One row per cap: the KV-cache factor reached, the speedup, layers proven, Pareto or not, the plan id. */
export function formatFrontier(frontier: CliFrontier): string {
  const rows = frontier.points.map((p) => [
    p.maxKvCacheFactor === null ? 'none' : String(p.maxKvCacheFactor),
    times(p.kvCacheFactor),
    timesOrNa(p.speedupVsContiguous),
    `${p.layersProven}/${p.layers}`,
    p.pareto ? 'yes' : '',
    p.planId,
  ]);
  const header = ['KV cap', 'KV factor', 'vs contiguous', 'proven', 'Pareto', 'plan id'];
  return `${textTable(header, rows)}\n\neach point solved in at most ${frontier.timeLimitMsPerPoint} ms; an unproven point's speedup is what was found in that time\n`;
}
