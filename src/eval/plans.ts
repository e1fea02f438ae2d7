/**
 * The plans of one evaluation run, each solved once: columns that ask for the same plan (equal
 * normalised requests have equal plan ids), such as the frontier's end points, the default column
 * and the unconstrained one, share one solve. Every plan goes through the planner's one request
 * path (resolveRequest) and solvePlan, as the service's plans do.
 */
import type { CostModel, Workload } from '../cost/cost-model.ts';
import type { LayerOutcome, LayerRunner } from '../planner/layer-task.ts';
import type { EngineName, Plan } from '../planner/plan.ts';
import {
  DEFAULT_MAX_KV_CACHE_FACTOR,
  resolveRequest,
  type PlanningContext,
  type PlanRequest,
  type ResolvedRequest,
  type SolverOptions,
} from '../planner/request.ts';
import { solvePlan } from '../planner/solve-plan.ts';
import type { WorkloadRequest } from '../planner/workload-request.ts';
import type { Profile } from '../profiles/profile.ts';
import { uniformProfile } from './uniform.ts';

/** What every evaluation shares: cost models, solver limits and where layers are solved. */
export interface EvalContext {
  /** The prefill cost model of the tables (the project's default, executed work). */
  readonly costModel: CostModel;
  /** The prefill workload of the tables; a plan names another in its spec. */
  readonly workload: Workload;
  /** Any cost model by name (the decode and mixed columns use a roofline, the planner's default for them). */
  readonly resolveCostModel: (name?: string) => CostModel;
  /** Limits and tolerance of the plans (engine is set per setting). */
  readonly solver: Omit<SolverOptions, 'engine'>;
  readonly runner: LayerRunner;
}

/** One plan of a profile: query-head units, equal heads per GPU, and what varies between columns. */
export interface EvalPlanSpec {
  readonly gpus: number;
  readonly engine: EngineName;
  /** The KV-cache cap; default DEFAULT_MAX_KV_CACHE_FACTOR (the service's default); null: none. */
  readonly maxKvCacheFactor?: number | null;
  /** Default: the context's prefill workload. */
  readonly workload?: WorkloadRequest;
  /** Heads per layer that may be split by query rows (0 or absent: none). */
  readonly maxSplitHeads?: number;
  /** Other limits than the context's (e.g. the split curve's). */
  readonly solver?: Omit<SolverOptions, 'engine'>;
  /** Every head of a layer at the layer's largest budget (the uniform setting, uniformProfile). */
  readonly uniformBudgets?: boolean;
}

export interface EvalPlanner {
  /** The plan request of a spec (query-head units, equal heads per GPU). */
  request(profile: Profile, spec: EvalPlanSpec): PlanRequest;
  /** The resolved request of a spec: its layer problems, id and KV facts. */
  resolve(profile: Profile, spec: EvalPlanSpec): ResolvedRequest;
  /** The plan of a spec, solved on the first request for its id and kept for the run. */
  plan(profile: Profile, spec: EvalPlanSpec): Promise<Plan>;
  /** The plan of a request on `profile` (e.g. a frontier point's), solved once per id like plan(). */
  planRequest(profile: Profile, request: PlanRequest): Promise<Plan>;
  /**
   * Plans solved, requests answered with a plan solved before, layer tasks solved and layer tasks
   * answered from an earlier plan's equal task.
   */
  readonly counts: {
    readonly solved: number;
    readonly reused: number;
    readonly layersSolved: number;
    readonly layersReused: number;
  };
}

/**
 * A runner that answers a layer task equal to one it has answered (same problem, engine, gap
 * tolerance, incumbent and bound; the time slice aside, which depends on the clock) with that
 * answer: plans that differ only where a layer does not see it (a cap that does not bind, an MHA
 * model whose KV heads are fixed) solve that layer once and give it the same placement.
 */
function memoRunner(runner: LayerRunner, counts: { layersSolved: number; layersReused: number }): LayerRunner {
  const outcomes = new Map<string, Promise<LayerOutcome>>();
  return {
    concurrency: runner.concurrency,
    run(task, options) {
      const key = JSON.stringify({ ...task, timeLimitMs: undefined });
      const known = outcomes.get(key);
      if (known) {
        counts.layersReused++;
        return known;
      }
      counts.layersSolved++;
      const solving = runner.run(task, options);
      outcomes.set(key, solving);
      return solving;
    },
  };
}

/** A planner for one evaluation run (plans are kept in memory until it is dropped). */
export function createEvalPlanner(context: EvalContext): EvalPlanner {
  const { workload } = context;
  const plans = new Map<string, Promise<Plan>>();
  const counts = { solved: 0, reused: 0, layersSolved: 0, layersReused: 0 };
  const runner = memoRunner(context.runner, counts);
  const planning = (profile: Profile): PlanningContext => ({
    resolveProfile: () => profile,
    resolveCostModel: (name?: string) => (name === undefined ? context.costModel : context.resolveCostModel(name)),
  });
  const requestOf = (profile: Profile, spec: EvalPlanSpec): PlanRequest => {
    const split = (spec.maxSplitHeads ?? 0) > 0 ? { splits: { maxSplitHeads: spec.maxSplitHeads! } } : {};
    // The uniform profile goes inline, so that its plan id (a hash of the profile) is its own.
    const source = spec.uniformBudgets ? { profile: uniformProfile(profile, workload.seqLen) } : { model: profile.id };
    const request: PlanRequest = {
      ...source,
      gpus: { count: spec.gpus },
      granularity: 'query-head',
      constraints: {
        unitsPerGpu: 'equal',
        maxKvCacheFactor: spec.maxKvCacheFactor === undefined ? DEFAULT_MAX_KV_CACHE_FACTOR : spec.maxKvCacheFactor,
        ...split,
      },
      workload: spec.workload ?? workload,
      solver: { ...(spec.solver ?? context.solver), engine: spec.engine },
    };
    return request;
  };
  const planRequest = (profile: Profile, request: PlanRequest): Promise<Plan> => {
    const resolved = resolveRequest(request, planning(profile));
    const known = plans.get(resolved.id);
    if (known) {
      counts.reused++;
      return known;
    }
    counts.solved++;
    const solving = solvePlan(resolved, runner);
    plans.set(resolved.id, solving);
    return solving;
  };
  return {
    request: requestOf,
    resolve: (profile, spec) => resolveRequest(requestOf(profile, spec), planning(profile)),
    plan: (profile, spec) => planRequest(profile, requestOf(profile, spec)),
    planRequest,
    counts,
  };
}

/** A plan's facts at one KV-cache cap. */
export interface CappedPlan {
  /** The cap asked for; null: none. */
  readonly maxKvCacheFactor: number | null;
  /** Sum of layer makespans, cost unit. */
  readonly attentionTime: number;
  /** null when contiguous placement breaks a constraint. */
  readonly speedupVsContiguous: number | null;
  /** KV heads the plan stores over what contiguous placement stores (1 is vLLM's own). */
  readonly kvCacheFactor: number;
  /** Layers whose makespan is proven (optimal, within_tolerance, trivial). */
  readonly layersProven: number;
  /** Relative gap of the whole plan against its lower bound. */
  readonly gap: number;
  /** Largest per-GPU KV cache summed over layers, bytes per sequence at the workload's length. */
  readonly kvBytesPerGpuMax: number | null;
}

/** The facts of a plan at its cap. */
export function cappedPlan(plan: Plan): CappedPlan {
  const t = plan.totals;
  return {
    maxKvCacheFactor: plan.maxKvCacheFactor ?? null,
    attentionTime: t.makespan,
    speedupVsContiguous: t.speedupVsContiguous,
    kvCacheFactor: t.kvCacheFactor,
    layersProven: t.layersProvenOptimal,
    gap: t.gap,
    kvBytesPerGpuMax: t.kvBytesPerGpuMax,
  };
}
