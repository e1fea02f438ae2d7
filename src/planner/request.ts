import { createHash } from 'node:crypto';
import { HplbError } from '../errors.ts';
import { DEFAULT_WORKLOAD, type CostModel, type Workload } from '../cost/cost-model.ts';
import { headShapeOf } from '../cost/work.ts';
import type { Profile } from '../profiles/profile.ts';
import { canonicalJson } from '../profiles/version.ts';
import { ILP_PROOF_PRECISION } from '../solver/engines/ilp.ts';
import { checkProfileRules } from '../profiles/registry.ts';
import { buildLayerProblems, formatUnitsPerGpu, parseUnitsPerGpu, sum, unitCount } from '../solver/problem.ts';
import type { Granularity, LayerProblem } from '../solver/types.ts';
import { checkProblemBounds, checkRawBounds, envBoundName, type BoundName, type RequestLimits } from './limits.ts';
import type { MigrationOptions, PreviousPlacement } from './migration.ts';
import { ENGINE_VERSION, type EngineName } from './plan.ts';
import { layerSplits, resolveSplits, type ResolvedSplits, type SplitsRequest } from './split-request.ts';

export interface Pin {
  readonly layer?: number;
  readonly unit: number;
  readonly gpu: number;
}

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
 * Every derived number (loads, makespans, totals, their sums over layers) stays below this, so it
 * is finite and GLPK, which scales a layer by its largest cost, works with moderate magnitudes.
 */
export const MAX_TOTAL_COST = 1e300;

export interface NormaliseOptions {
  /** The compiled PlanRequest schema of openapi.yaml: returns the body typed, throws VALIDATION_FAILED. */
  readonly validate: (body: unknown) => PlanRequest;
  readonly context: PlanningContext;
  readonly limits: RequestLimits;
  /** How bounds are named in messages: configuration variables by default. */
  readonly boundName?: BoundName;
}

export interface NormalisedRequest {
  /** The validated request with its time limits filled in and clamped (for steps that read fields, e.g. a re-plan). */
  readonly request: PlanRequest;
  readonly resolved: ResolvedRequest;
  /** The time limit used, ms, when a requested limit was above the configured maximum. */
  readonly clampedTo?: number;
}

/**
 * The one path of every plan request (HTTP body, per-model lookup, CLI flags and files): schema
 * validation, time limits filled in and clamped, the rules of an inline profile, the problem's
 * bounds checked on its shape before anything grows with it, then resolveRequest. New request
 * fields are checked here (or in resolveRequest when they shape the layer problems).
 */
export function normalisePlanRequest(body: unknown, options: NormaliseOptions): NormalisedRequest {
  const { context, limits } = options;
  checkRawBounds(body, limits, options.boundName);
  const { request, clampedTo } = withTimeLimits(options.validate(body), limits);
  const profile =
    request.model !== undefined
      ? context.resolveProfile(request.model)
      : request.profile && checkInlineProfile(request.profile);
  const source = profile
    ? {
        layers: profile.architecture.layers,
        heads: profile.architecture.queryHeads,
        kvGroupSize: profile.architecture.queryHeads / profile.architecture.kvHeads,
      }
    : costsShape(request);
  const units = unitCount(source.heads, source.kvGroupSize, request.granularity ?? 'query-head');
  const pins = request.constraints?.pins ?? [];
  const unlayered = pins.filter((p) => p.layer === undefined).length;
  checkProblemBounds(
    {
      layers: source.layers,
      units,
      gpus: request.gpus.count,
      expandedPins: unlayered * source.layers + pins.length - unlayered,
    },
    limits,
    request.model !== undefined ? '/model' : request.profile !== undefined ? '/profile' : '/costs',
    options.boundName ?? envBoundName,
  );
  const resolved = resolveRequest(profile && request.profile ? { ...request, profile } : request, context);
  return { request, resolved, ...(clampedTo !== undefined ? { clampedTo } : {}) };
}

/** Fills in the time limits and clamps them to the configured maximum. */
function withTimeLimits(request: PlanRequest, limits: RequestLimits): { request: PlanRequest; clampedTo?: number } {
  const timeLimitMs = request.solver?.timeLimitMs ?? limits.defaultTimeLimitMs;
  const layerTimeLimitMs = request.solver?.layerTimeLimitMs ?? DEFAULT_SOLVER_OPTIONS.layerTimeLimitMs;
  const max = limits.maxTimeLimitMs;
  const solver = {
    ...request.solver,
    timeLimitMs: Math.min(timeLimitMs, max),
    layerTimeLimitMs: Math.min(layerTimeLimitMs, max),
  };
  const clamped = timeLimitMs > max || layerTimeLimitMs > max;
  return { request: { ...request, solver }, ...(clamped ? { clampedTo: max } : {}) };
}

/** The rules of an inline profile a schema cannot check (shape against architecture, version), pointed into the body. */
function checkInlineProfile(profile: Profile): Profile {
  try {
    return checkProfileRules(profile, 'profile');
  } catch (error) {
    if (error instanceof HplbError && error.pointer !== undefined) {
      throw new HplbError(error.code, error.message, {
        pointer: `/profile${error.pointer}`,
        rule: error.rule ?? 'profile',
      });
    }
    throw error;
  }
}

/** Layers, widest row and group size of an explicit cost matrix (raggedness is refused later). */
function costsShape(request: PlanRequest): { layers: number; heads: number; kvGroupSize: number } {
  const costs = request.costs ?? [];
  let heads = 0;
  for (const row of costs) heads = Math.max(heads, row.length);
  return { layers: costs.length, heads, kvGroupSize: request.kvGroupSize ?? 1 };
}

/**
 * Normalises a request (defaults filled in, cost model resolved), builds its layer problems and
 * its content-addressed id. Throws HplbError for unknown models and impossible constraints. Takes
 * a request already checked against the schema and the bounds (normalisePlanRequest does both).
 */
export function resolveRequest(request: PlanRequest, context: PlanningContext): ResolvedRequest {
  const sources = [request.model, request.profile, request.costs].filter((s) => s !== undefined).length;
  if (sources !== 1)
    throw new HplbError('INVALID_PROBLEM', 'give exactly one of model, profile or costs', {
      pointer: '',
      rule: 'oneOf',
    });

  const profile = request.model !== undefined ? context.resolveProfile(request.model) : request.profile;
  const workload: Workload = { ...DEFAULT_WORKLOAD, ...request.workload };
  const costModel = context.resolveCostModel(request.costModel);
  const granularity: Granularity = request.granularity ?? 'query-head';
  const speeds = request.gpus.speeds ? [...request.gpus.speeds] : new Array<number>(request.gpus.count).fill(1);
  if (speeds.length !== request.gpus.count) {
    throw new HplbError('INVALID_PROBLEM', `gpus.speeds has ${speeds.length} entries for ${request.gpus.count} GPUs`, {
      pointer: '/gpus/speeds',
      rule: 'length',
    });
  }
  const unitsPerGpu = parseUnitsPerGpu(request.constraints?.unitsPerGpu ?? 'equal');
  const solver: SolverOptions = { ...DEFAULT_SOLVER_OPTIONS, ...request.solver };
  if (!(solver.gapTolerance >= ILP_PROOF_PRECISION && solver.gapTolerance < 1)) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `gapTolerance must be in [${ILP_PROOF_PRECISION}, 1): GLPK proves no finer than ${ILP_PROOF_PRECISION}`,
      { pointer: '/solver/gapTolerance', rule: 'range' },
    );
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
    sourceKey =
      request.model !== undefined
        ? { model: profile.id, version: profile.version }
        : { profile: sha256(canonicalJson(profile)) };
  } else {
    headCosts = (request.costs ?? []).map((row) => [...row]);
    kvGroupSize = request.kvGroupSize ?? 1;
    model = { id: null, version: null };
    sourceKey = { costs: sha256(canonicalJson(headCosts)), kvGroupSize };
  }

  const pins = request.constraints?.pins ?? [];
  const splitContext = {
    profile,
    costModel,
    workload,
    granularity,
    kvGroupSize,
    headCosts,
    maxKvGroupsPerGpu: request.constraints?.maxKvGroupsPerGpu,
    replan: request.previous !== undefined,
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
  checkTotals(headCosts, speeds, profile ? '/workload' : '/costs');
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
    ...(splits
      ? {
          splits: {
            maxSplitHeads: splits.maxSplitHeads,
            maxPartsPerHead: splits.maxPartsPerHead,
            partOverhead: splits.partOverhead,
          },
        }
      : {}),
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
    costModel: profile
      ? { name: costModel.name, unit: costModel.unit, device: costModel.device }
      : { name: 'explicit', unit: 'caller', device: null },
    solver,
    layers,
    splits,
  };
}

/**
 * Refuses costs whose loads could overflow: the sum over layers of each layer's total cost on the
 * slowest GPU bounds every load, makespan and total of the plan.
 */
function checkTotals(headCosts: readonly (readonly number[])[], speeds: readonly number[], pointer: string): void {
  const slowest = Math.min(...speeds);
  let total = 0;
  for (const row of headCosts) total += sum(row) / slowest;
  if (!(total <= MAX_TOTAL_COST)) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `the costs summed over every head and layer, divided by the slowest GPU's speed, come to ${total}, above ${MAX_TOTAL_COST}: loads and totals would not be finite numbers; scale the costs down`,
      { pointer, rule: 'finiteTotal' },
    );
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
