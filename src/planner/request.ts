import { createHash } from 'node:crypto';
import { HplbError } from '../errors.ts';
import type { CostModel } from '../cost/cost-model.ts';
import type { Profile } from '../profiles/profile.ts';
import { canonicalJson } from '../profiles/version.ts';
import { checkProfileRules } from '../profiles/registry.ts';
import { formatUnitsPerGpu, unitCount } from '../solver/problem.ts';
import type { Granularity, LayerProblem } from '../solver/types.ts';
import { checkProblemBounds, checkRawBounds, envBoundName, type BoundName, type RequestLimits } from './limits.ts';
import type { MigrationOptions, PreviousPlacement } from './migration.ts';
import { ENGINE_VERSION, type EngineName } from './plan.ts';
import { buildLayers, DEFAULT_SOLVER_OPTIONS, resolveBasics, resolveSource } from './request-source.ts';
import { layerSplits, resolveSplits, type ResolvedSplits, type SplitsRequest } from './split-request.ts';
import {
  contextWarnings,
  kvHeadBytes,
  resolveWorkload,
  type PlanWarning,
  type PlanWorkload,
  type WorkloadPhase,
  type WorkloadRequest,
} from './workload-request.ts';

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
    /**
     * Most KV heads stored per layer, as a multiple of what the contiguous placement stores at
     * this GPU count; default 1 (never more KV cache than vLLM's own placement), null: no cap.
     */
    readonly maxKvCacheFactor?: number | null;
    readonly pins?: readonly Pin[];
    /** Split heads by query rows (split-request.ts); off unless maxSplitHeads > 0. */
    readonly splits?: SplitsRequest;
  };
  /** One phase ({seqLen, phase}) or a weighted mix of phases ({mix}). */
  readonly workload?: WorkloadRequest;
  /** Cost model name ("analytic", "roofline:<device>" or a calibration); default: the service's default. */
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

export { DEFAULT_MAX_KV_CACHE_FACTOR, DEFAULT_SOLVER_OPTIONS } from './request-source.ts';

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
  /** The KV-cache cap (1 by default); null: none. */
  readonly maxKvCacheFactor: number | null;
  /** As the plan echoes it: one phase, or the mix. */
  readonly workload: PlanWorkload;
  /** [phases] one phase of weight 1, or the mix. */
  readonly phases: readonly WorkloadPhase[];
  /** Whether the objective is a weighted sum of phases (the request gave a mix). */
  readonly mixed: boolean;
  /** The longest seqLen: the context a sequence's KV cache holds. */
  readonly kvSeqLen: number;
  /** Query heads per KV group. */
  readonly kvGroupSize: number;
  /** Bytes of one KV head's cache per layer and sequence at kvSeqLen; null for explicit costs. */
  readonly kvHeadBytes: number | null;
  readonly costModel: { readonly name: string; readonly unit: string; readonly device: string | null };
  readonly solver: SolverOptions;
  readonly layers: LayerProblem[];
  /** Split limits; null when splitting is off. */
  readonly splits: ResolvedSplits | null;
  /** Cautions the plan carries (e.g. a seqLen beyond the model's context length). */
  readonly warnings: PlanWarning[];
}

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
 * Normalises a request (defaults filled in, workload and cost model resolved), builds its layer
 * problems and its content-addressed id. Throws HplbError for unknown models and impossible
 * constraints. Takes a request already checked against the schema and the bounds
 * (normalisePlanRequest does both).
 */
export function resolveRequest(request: PlanRequest, context: PlanningContext): ResolvedRequest {
  const basics = resolveBasics(request);
  const workload = resolveWorkload(request.workload);
  const source = resolveSource(request, context, workload, basics.speeds);
  const { profile, costModel } = source;
  const splitContext = {
    ...source,
    granularity: basics.granularity,
    maxKvCacheFactor: basics.maxKvCacheFactor,
    workload: { seqLen: workload.phases[0].seqLen, phase: workload.phases[0].phase },
    mixed: workload.mixed,
    maxKvGroupsPerGpu: request.constraints?.maxKvGroupsPerGpu,
    replan: request.previous !== undefined,
  };
  const splits = resolveSplits(request.constraints?.splits, splitContext);
  const layers = buildLayers(basics, source, request, splits ? layerSplits(splits, splitContext) : null);
  const normalised = {
    source: source.key,
    gpus: { count: basics.speeds.length, speeds: basics.speeds },
    granularity: basics.granularity,
    unitsPerGpu: formatUnitsPerGpu(basics.unitsPerGpu),
    maxKvGroupsPerGpu: request.constraints?.maxKvGroupsPerGpu ?? null,
    maxKvCacheFactor: basics.maxKvCacheFactor,
    pins: request.constraints?.pins ?? [],
    // Explicit costs are already in the caller's unit: workload and cost model do not apply.
    workload: profile ? workload.workload : null,
    costModel: profile ? costModel.name : null,
    solver: basics.solver,
    // Present only when splitting is on, so plans without splits keep their ids.
    ...(splits ? { splits } : {}),
    engineVersion: ENGINE_VERSION,
  };
  return {
    id: sha256(canonicalJson(normalised)).slice(0, 32),
    model: source.model,
    granularity: basics.granularity,
    speeds: basics.speeds,
    unitsPerGpu: normalised.unitsPerGpu,
    maxKvGroupsPerGpu: normalised.maxKvGroupsPerGpu,
    maxKvCacheFactor: basics.maxKvCacheFactor,
    workload: workload.workload,
    phases: workload.phases,
    mixed: workload.mixed,
    kvSeqLen: workload.kvSeqLen,
    kvGroupSize: source.kvGroupSize,
    kvHeadBytes: kvHeadBytes(profile, workload),
    costModel: profile
      ? { name: costModel.name, unit: costModel.unit, device: costModel.device }
      : { name: 'explicit', unit: 'caller', device: null },
    solver: basics.solver,
    layers,
    splits,
    warnings: contextWarnings(profile, workload),
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
