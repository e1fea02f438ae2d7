/**
 * Steps of resolveRequest (request.ts): the request's plain settings with their defaults, and its
 * source (registry model, inline profile or explicit costs) priced into per-layer costs with the
 * key that stands for it in the plan id.
 */
import { createHash } from 'node:crypto';
import type { CostModel } from '../cost/cost-model.ts';
import { HplbError } from '../errors.ts';
import type { Profile } from '../profiles/profile.ts';
import { canonicalJson } from '../profiles/version.ts';
import { ILP_PROOF_PRECISION } from '../solver/engines/ilp.ts';
import { buildLayerProblems, parseUnitsPerGpu, sum } from '../solver/problem.ts';
import type { Granularity, LayerProblem, UnitsPerGpu } from '../solver/types.ts';
import type { LayerSplits } from '../solver/split/types.ts';
import type { PlanningContext, PlanRequest, SolverOptions } from './request.ts';
import { chooseCostModel, priceProfile, type PricedCosts, type ResolvedWorkload } from './workload-request.ts';

export const DEFAULT_SOLVER_OPTIONS: SolverOptions = Object.freeze({
  engine: 'auto',
  timeLimitMs: 10_000,
  layerTimeLimitMs: 2_000,
  gapTolerance: 1e-4,
});

/** The KV-cache cap a request gets when it names none: what vLLM's contiguous placement stores. */
export const DEFAULT_MAX_KV_CACHE_FACTOR = 1;

/**
 * Every derived number (loads, makespans, totals, their sums over layers) stays below this, so it
 * is finite and GLPK, which scales a layer by its largest cost, works with moderate magnitudes.
 */
export const MAX_TOTAL_COST = 1e300;

/** The request's settings that do not depend on its source, defaults filled in. */
export interface RequestBasics {
  readonly granularity: Granularity;
  /** [gpus] relative speeds, all 1 unless given. */
  readonly speeds: number[];
  readonly unitsPerGpu: UnitsPerGpu;
  readonly solver: SolverOptions;
  readonly maxKvCacheFactor: number | null;
}

/** Granularity, speeds, units per GPU, solver options and the KV-cache cap, checked. */
export function resolveBasics(request: PlanRequest): RequestBasics {
  const sources = [request.model, request.profile, request.costs].filter((s) => s !== undefined).length;
  if (sources !== 1)
    throw new HplbError('INVALID_PROBLEM', 'give exactly one of model, profile or costs', {
      pointer: '',
      rule: 'oneOf',
    });
  const speeds = request.gpus.speeds ? [...request.gpus.speeds] : new Array<number>(request.gpus.count).fill(1);
  if (speeds.length !== request.gpus.count) {
    throw new HplbError('INVALID_PROBLEM', `gpus.speeds has ${speeds.length} entries for ${request.gpus.count} GPUs`, {
      pointer: '/gpus/speeds',
      rule: 'length',
    });
  }
  const solver: SolverOptions = { ...DEFAULT_SOLVER_OPTIONS, ...request.solver };
  if (!(solver.gapTolerance >= ILP_PROOF_PRECISION && solver.gapTolerance < 1)) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `gapTolerance must be in [${ILP_PROOF_PRECISION}, 1): GLPK proves no finer than ${ILP_PROOF_PRECISION}`,
      { pointer: '/solver/gapTolerance', rule: 'range' },
    );
  }
  const cap = request.constraints?.maxKvCacheFactor;
  const maxKvCacheFactor = cap === undefined ? DEFAULT_MAX_KV_CACHE_FACTOR : cap;
  if (maxKvCacheFactor !== null && !(Number.isFinite(maxKvCacheFactor) && maxKvCacheFactor >= 1)) {
    throw new HplbError('INVALID_PROBLEM', `maxKvCacheFactor must be a number >= 1 or null, got ${maxKvCacheFactor}`, {
      pointer: '/constraints/maxKvCacheFactor',
      rule: 'minimum',
    });
  }
  return {
    granularity: request.granularity ?? 'query-head',
    speeds,
    unitsPerGpu: parseUnitsPerGpu(request.constraints?.unitsPerGpu ?? 'equal'),
    solver,
    maxKvCacheFactor,
  };
}

/** What the request places, priced. */
export interface ResolvedSource {
  /** The profile, inline or from the registry; undefined for explicit costs. */
  readonly profile: Profile | undefined;
  /** The cost model that priced the profile (for explicit costs: the default, unused). */
  readonly costModel: CostModel;
  readonly costs: PricedCosts;
  readonly kvGroupSize: number;
  readonly model: { readonly id: string | null; readonly version: string | null };
  /** What stands for the source in the plan id. */
  readonly key: unknown;
}

/**
 * The request's source priced under its workload: a profile's head and group costs from the
 * cost model (chooseCostModel), or explicit costs as given (a mix of phases cannot apply to them).
 * Refuses costs whose loads could overflow.
 */
export function resolveSource(
  request: PlanRequest,
  context: PlanningContext,
  workload: ResolvedWorkload,
  speeds: readonly number[],
): ResolvedSource {
  const profile = request.model !== undefined ? context.resolveProfile(request.model) : request.profile;
  if (!profile) {
    if (workload.mixed) {
      throw new HplbError(
        'INVALID_PROBLEM',
        "a workload mix needs a model or profile to price its phases: explicit costs are in the caller's unit for one workload",
        { pointer: '/workload/mix', rule: 'costs' },
      );
    }
    const costModel = context.resolveCostModel(request.costModel);
    const headCosts = (request.costs ?? []).map((row) => [...row]);
    const kvGroupSize = request.kvGroupSize ?? 1;
    checkTotals({ headCosts }, speeds, '/costs');
    return {
      profile,
      costModel,
      costs: { headCosts },
      kvGroupSize,
      model: { id: null, version: null },
      key: { costs: sha256(canonicalJson(headCosts)), kvGroupSize },
    };
  }
  const costModel = chooseCostModel(request.costModel, workload, (name) => context.resolveCostModel(name));
  const costs = priceProfile(profile, costModel, workload);
  checkTotals(costs, speeds, '/workload');
  return {
    profile,
    costModel,
    costs,
    kvGroupSize: profile.architecture.queryHeads / profile.architecture.kvHeads,
    model: { id: profile.id, version: profile.version },
    key:
      request.model !== undefined
        ? { model: profile.id, version: profile.version }
        : { profile: sha256(canonicalJson(profile)) },
  };
}

/**
 * Refuses costs whose loads could overflow: the sum over layers of each layer's head costs and
 * group costs (a GPU stores a group at most once) on the slowest GPU bounds every load, makespan
 * and total of the plan.
 */
function checkTotals(costs: PricedCosts, speeds: readonly number[], pointer: string): void {
  const slowest = Math.min(...speeds);
  let total = 0;
  for (const row of costs.headCosts) total += sum(row) / slowest;
  for (const row of costs.groupCosts ?? []) total += sum(row) / slowest;
  if (!(total <= MAX_TOTAL_COST)) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `the costs summed over every head and layer, divided by the slowest GPU's speed, come to ${total}, above ${MAX_TOTAL_COST}: loads and totals would not be finite numbers; scale the costs down`,
      { pointer, rule: 'finiteTotal' },
    );
  }
}

/** The layer problems of the request, with each layer's row costs when heads may be split. */
export function buildLayers(
  basics: RequestBasics,
  source: ResolvedSource,
  request: PlanRequest,
  rowCosts: readonly LayerSplits[] | null,
): LayerProblem[] {
  const whole = buildLayerProblems({
    ...source.costs,
    kvGroupSize: source.kvGroupSize,
    granularity: basics.granularity,
    speeds: basics.speeds,
    unitsPerGpu: basics.unitsPerGpu,
    maxKvGroupsPerGpu: request.constraints?.maxKvGroupsPerGpu,
    ...(basics.maxKvCacheFactor !== null ? { maxKvCacheFactor: basics.maxKvCacheFactor } : {}),
    pins: request.constraints?.pins ?? [],
  });
  return rowCosts ? whole.map((problem, l) => ({ ...problem, splits: rowCosts[l] })) : whole;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
