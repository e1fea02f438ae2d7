import { createHash } from 'node:crypto';
import { HplbError } from '../errors.ts';
import { DEFAULT_WORKLOAD, type CostModel, type Workload } from '../cost/cost-model.ts';
import { headShapeOf } from '../cost/work.ts';
import type { Profile } from '../profiles/profile.ts';
import { canonicalJson } from '../profiles/version.ts';
import { ILP_PROOF_PRECISION } from '../solver/engines/ilp.ts';
import { buildLayerProblems, formatUnitsPerGpu, parseUnitsPerGpu } from '../solver/problem.ts';
import type { Granularity, LayerProblem } from '../solver/types.ts';
import type { MigrationOptions, PreviousPlacement } from './migration.ts';
import { ENGINE_VERSION, type EngineName } from './plan.ts';
import { layerSplits, resolveSplits, type ResolvedSplits, type SplitsRequest } from './split-request.ts';

export interface Pin { readonly layer?: number; readonly unit: number; readonly gpu: number }

/**
 * A plan request as the API and CLI take it. Exactly one source: `model` (a registry id),
 * `profile` (an inline profile) or `costs` ([layers][queryHeads] costs in the caller's unit).
 */
export interface PlanRequest {
  readonly model?: string;
  readonly profile?: Profile;
  readonly costs?: readonly (readonly number[])[];
  /** Query heads per KV group for `costs` (profiles carry their own); default 1. */
  readonly kvGroupSize?: number;
  readonly gpus: { readonly count: number; readonly speeds?: readonly number[] };
  readonly granularity?: Granularity;
  readonly constraints?: {
    /** "equal" (default), "free" or "max:N". */
    readonly unitsPerGpu?: string;
    readonly maxKvGroupsPerGpu?: number;
    readonly pins?: readonly Pin[];
    /** Split heads by query rows (split-request.ts); off unless maxSplitHeads > 0. */
    readonly splits?: SplitsRequest;
  };
  readonly workload?: Partial<Workload>;
  /** Cost model name ("analytic" or a calibration); default: the service's default. */
  readonly costModel?: string;
  readonly solver?: Partial<SolverOptions>;
  /** The running placement: with it the answer is a re-plan that moves as little as possible. */
  readonly previous?: PreviousPlacement;
  /** How the re-plan weighs moves (only with previous). */
  readonly migration?: MigrationOptions;
}

export interface SolverOptions {
  readonly engine: EngineName;
  /** Wall-clock budget of the whole plan, ms. */
  readonly timeLimitMs: number;
  /** Most time one layer may take, ms. */
  readonly layerTimeLimitMs: number;
  /** Relative gap under which a layer counts as solved. */
  readonly gapTolerance: number;
}

export const DEFAULT_SOLVER_OPTIONS: SolverOptions = Object.freeze({
  engine: 'auto',
  timeLimitMs: 10_000,
  layerTimeLimitMs: 2_000,
  gapTolerance: 1e-4,
});

/** Where the request's models and cost models come from (the registry, the calibrations). */
export interface PlanningContext {
  resolveProfile(id: string): Profile;
  resolveCostModel(name?: string): CostModel;
}

/** A request resolved into per-layer problems, with everything the plan must echo. */
export interface ResolvedRequest {
  /** Content hash of the normalised request, profile version and engine version. */
  readonly id: string;
  readonly model: { readonly id: string | null; readonly version: string | null };
  readonly granularity: Granularity;
  readonly speeds: number[];
  readonly unitsPerGpu: string;
  readonly maxKvGroupsPerGpu: number | null;
  readonly workload: Workload;
  readonly costModel: { readonly name: string; readonly unit: string; readonly device: string | null };
  readonly solver: SolverOptions;
  readonly layers: LayerProblem[];
  /** Split limits; null when splitting is off. */
  readonly splits: ResolvedSplits | null;
}

/**
 * Normalises a request (defaults filled in, cost model resolved), builds its layer problems and
 * its content-addressed id. Throws HplbError for unknown models and impossible constraints.
 */
export function resolveRequest(request: PlanRequest, context: PlanningContext): ResolvedRequest {
  const sources = [request.model, request.profile, request.costs].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new HplbError('INVALID_PROBLEM', 'give exactly one of model, profile or costs', { pointer: '', rule: 'oneOf' });

  const profile = request.model !== undefined ? context.resolveProfile(request.model) : request.profile;
  const workload: Workload = { ...DEFAULT_WORKLOAD, ...request.workload };
  const costModel = context.resolveCostModel(request.costModel);
  const granularity: Granularity = request.granularity ?? 'query-head';
  const speeds = request.gpus.speeds ? [...request.gpus.speeds] : new Array<number>(request.gpus.count).fill(1);
  if (speeds.length !== request.gpus.count) {
    throw new HplbError('INVALID_PROBLEM', `gpus.speeds has ${speeds.length} entries for ${request.gpus.count} GPUs`, { pointer: '/gpus/speeds', rule: 'length' });
  }
  const unitsPerGpu = parseUnitsPerGpu(request.constraints?.unitsPerGpu ?? 'equal');
  const solver: SolverOptions = { ...DEFAULT_SOLVER_OPTIONS, ...request.solver };
  if (!(solver.gapTolerance >= ILP_PROOF_PRECISION && solver.gapTolerance < 1)) {
    throw new HplbError('INVALID_PROBLEM', `gapTolerance must be in [${ILP_PROOF_PRECISION}, 1): GLPK proves no finer than ${ILP_PROOF_PRECISION}`, { pointer: '/solver/gapTolerance', rule: 'range' });
  }

  let headCosts: number[][];
  let kvGroupSize: number;
  let model: ResolvedRequest['model'];
  let sourceKey: unknown;
  if (profile) {
    const shape = headShapeOf(profile.architecture);
    headCosts = profile.budgets.map((row) => row.map((b) => costModel.headCost(b, workload, shape)));
    kvGroupSize = profile.architecture.queryHeads / profile.architecture.kvHeads;
    model = { id: profile.id, version: profile.version };
    sourceKey = request.model !== undefined ? { model: profile.id, version: profile.version } : { profile: sha256(canonicalJson(profile)) };
  } else {
    headCosts = (request.costs ?? []).map((row) => [...row]);
    kvGroupSize = request.kvGroupSize ?? 1;
    model = { id: null, version: null };
    sourceKey = { costs: sha256(canonicalJson(headCosts)), kvGroupSize };
  }

  const pins = request.constraints?.pins ?? [];
  const splitContext = {
    profile, costModel, workload, granularity, kvGroupSize, headCosts,
    maxKvGroupsPerGpu: request.constraints?.maxKvGroupsPerGpu, replan: request.previous !== undefined,
  };
  const splits = resolveSplits(request.constraints?.splits, splitContext);
  const wholeLayers = buildLayerProblems({
    headCosts,
    kvGroupSize,
    granularity,
    speeds,
    unitsPerGpu,
    maxKvGroupsPerGpu: request.constraints?.maxKvGroupsPerGpu,
    pins,
  });
  const rowCosts = splits ? layerSplits(splits, splitContext) : null;
  const layers = rowCosts ? wholeLayers.map((problem, l) => ({ ...problem, splits: rowCosts[l] })) : wholeLayers;

  const normalised = {
    source: sourceKey,
    gpus: { count: speeds.length, speeds },
    granularity,
    unitsPerGpu: formatUnitsPerGpu(unitsPerGpu),
    maxKvGroupsPerGpu: request.constraints?.maxKvGroupsPerGpu ?? null,
    pins,
    // Explicit costs are already in the caller's unit: workload and cost model do not apply.
    workload: profile ? workload : null,
    costModel: profile ? costModel.name : null,
    solver,
    // Present only when splitting is on, so plans without splits keep their ids.
    ...(splits ? { splits: { maxSplitHeads: splits.maxSplitHeads, maxPartsPerHead: splits.maxPartsPerHead, partOverhead: splits.partOverhead } } : {}),
    engineVersion: ENGINE_VERSION,
  };
  return {
    id: sha256(canonicalJson(normalised)).slice(0, 32),
    model,
    granularity,
    speeds,
    unitsPerGpu: normalised.unitsPerGpu,
    maxKvGroupsPerGpu: normalised.maxKvGroupsPerGpu,
    workload,
    costModel: profile ? { name: costModel.name, unit: costModel.unit, device: costModel.device } : { name: 'explicit', unit: 'caller', device: null },
    solver,
    layers,
    splits,
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
