/**
 * The KV-cache frontier of one model at one GPU count: the plan at each KV-cache cap of a fixed
 * grid (FRONTIER_CAPS, those that bind) and with no cap, each a real plan solved through the
 * caller's plan service (so each is cached and fetchable by id), and which of them are Pareto
 * points of (KV-cache factor, speedup vs contiguous). The points are solved one after another,
 * each with an equal share of the frontier's time limit, so the whole answer is bounded by it.
 */
import { contiguousKvHeadsPerGpu } from '../../public/plan-math.js';
import { HplbError } from '../errors.ts';
import { sum } from '../solver/problem.ts';
import type { PlanRequest } from './request.ts';

/**
 * Caps tried, as multiples of the contiguous placement's KV heads: the default (1), the steps the
 * issue's MILP figures show the speedup climbing through (1.25, 1.5, 2), and 3 and 4 for the
 * widest groups; caps that cannot bind (at or above what any placement can store) are left out.
 */
export const FRONTIER_CAPS: readonly number[] = Object.freeze([1, 1.25, 1.5, 2, 3, 4]);

/** What a frontier point needs of a solved plan. */
export interface FrontierPlan {
  readonly id: string;
  readonly layers: number;
  readonly totals: {
    readonly kvCacheFactor: number;
    readonly speedupVsContiguous: number | null;
    readonly layersProvenOptimal: number;
    readonly makespan: number;
    readonly kvBytesPerGpuMax: number | null;
  };
}

export interface FrontierPoint {
  /** The cap the point was solved under; null: none. */
  readonly maxKvCacheFactor: number | null;
  readonly planId: string;
  /** KV heads the plan stores over those the contiguous placement stores. */
  readonly kvCacheFactor: number;
  readonly speedupVsContiguous: number | null;
  readonly makespan: number;
  readonly kvBytesPerGpuMax: number | null;
  readonly layersProven: number;
  readonly layers: number;
  /** Every layer proven: else the speedup is what was found in time, and the true one may be higher. */
  readonly proven: boolean;
  /** No other point stores at most as much KV and is at least as fast, one of them strictly. */
  readonly pareto: boolean;
}

/** The model facts that decide which caps can bind. */
export interface FrontierShape {
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly gpus: number;
  readonly granularity: 'query-head' | 'kv-group';
  /** Most query heads one GPU may run (unitsPerGpu: equal H / G, max:N N, free H). */
  readonly maxHeadsPerGpu: number;
}

/**
 * The caps of FRONTIER_CAPS that can bind, then null (no cap). KV-group units and MHA heads are
 * stored once wherever they go, so only null is left. Otherwise the contiguous placement (blocks
 * of ceil(H / G) heads, a block storing every group it touches) stores R0 KV heads, a GPU at most
 * one copy of each of min(its heads, kvHeads) groups, and a cap whose floor(cap x R0) reaches that
 * total is no cap.
 */
export function frontierCaps(shape: FrontierShape): (number | null)[] {
  const { queryHeads, kvHeads, gpus } = shape;
  if (shape.granularity === 'kv-group' || queryHeads === kvHeads) return [null];
  const contiguous = sum(contiguousKvHeadsPerGpu(queryHeads, gpus, queryHeads / kvHeads));
  const most = Math.min(queryHeads, gpus * Math.min(shape.maxHeadsPerGpu, kvHeads));
  return [...FRONTIER_CAPS.filter((cap) => Math.floor(cap * contiguous + 1e-9) < most), null];
}

/**
 * Solves `base` at each cap (its own maxKvCacheFactor is replaced) through `plan`, one after
 * another, each with timeLimitMs / caps of the frontier's time, and marks the Pareto points.
 */
export async function solveFrontier(
  base: PlanRequest,
  caps: readonly (number | null)[],
  timeLimitMs: number,
  plan: (request: PlanRequest) => Promise<FrontierPlan>,
): Promise<FrontierPoint[]> {
  if (caps.length === 0) throw new HplbError('INTERNAL', 'a frontier needs at least one cap');
  const share = Math.max(1, Math.floor(timeLimitMs / caps.length));
  const solved: Omit<FrontierPoint, 'pareto'>[] = [];
  for (const cap of caps) {
    const request: PlanRequest = {
      ...base,
      constraints: { ...base.constraints, maxKvCacheFactor: cap },
      solver: {
        ...base.solver,
        timeLimitMs: share,
        layerTimeLimitMs: Math.min(share, base.solver?.layerTimeLimitMs ?? share),
      },
    };
    const { id, layers, totals } = await plan(request);
    solved.push({
      maxKvCacheFactor: cap,
      planId: id,
      kvCacheFactor: totals.kvCacheFactor,
      speedupVsContiguous: totals.speedupVsContiguous,
      makespan: totals.makespan,
      kvBytesPerGpuMax: totals.kvBytesPerGpuMax,
      layersProven: totals.layersProvenOptimal,
      layers,
      proven: totals.layersProvenOptimal === layers,
    });
  }
  return solved.map((point) => ({ ...point, pareto: !solved.some((other) => dominates(other, point)) }));
}

/** Whether `a` stores at most as much KV as `b` and is at least as fast (by makespan), one strictly. */
function dominates(a: Omit<FrontierPoint, 'pareto'>, b: Omit<FrontierPoint, 'pareto'>): boolean {
  const lessKv = a.kvCacheFactor <= b.kvCacheFactor;
  const faster = a.makespan <= b.makespan;
  return lessKv && faster && (a.kvCacheFactor < b.kvCacheFactor || a.makespan < b.makespan);
}
