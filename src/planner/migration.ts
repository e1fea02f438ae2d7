/**
 * The re-plan part of a plan request: the running placement (`previous`) and the `migration`
 * options, checked against the new problem and resolved into one MigrationSpec per layer.
 */
import { createHash } from 'node:crypto';
import { headShapeOf, hiddenSizeOf, kvBytes } from '../cost/head-shape.ts';
import { HplbError } from '../errors.ts';
import type { Architecture } from '../profiles/profile.ts';
import { canonicalJson } from '../profiles/version.ts';
import type { MigrationSpec } from '../solver/replan/types.ts';
import type { Plan } from './plan.ts';
import type { PlanRequest, PlanningContext, ResolvedRequest } from './request.ts';

/** The running placement: a stored plan (by id, resolved by the caller) or per-layer unit2gpu. */
export interface PreviousPlacement {
  readonly planId?: string;
  /** [layers][units] GPU (old label) of each unit. */
  readonly unit2gpu?: readonly (readonly number[])[];
}

export interface MigrationOptions {
  /** eps: the re-plan's makespan may exceed the best known by this share (default 0.01). */
  readonly makespanTolerance?: number;
  /** [units] cost of moving each unit (every layer); default: bytes from the architecture. */
  readonly moveCost?: readonly number[];
  /** Most units moved per layer. */
  readonly maxMoves?: number;
  /** [fromGpu][toGpu] factor on a move's cost. */
  readonly gpuDistance?: readonly (readonly number[])[];
  /** A layer changes only when its makespan improves by at least this share (default 0: off). */
  readonly minImprovement?: number;
  /** Most layers changed by one re-plan, best improvement first. */
  readonly maxLayers?: number;
}

export const DEFAULT_MAKESPAN_TOLERANCE = 0.01;

/** Bytes of one weight element (bf16/fp16, what serving stacks run). */
const ELEMENT_BYTES = 2;

/** What a re-plan reads of the stored plan it starts from (a Plan has all of it). */
export interface PreviousPlan {
  readonly id: string;
  readonly model: { readonly id: string | null };
  readonly granularity: Plan['granularity'];
  readonly layers: readonly { readonly unit2gpu: readonly number[] }[];
}

/** Everything the re-plan needs besides the fresh plan, with what the plan echoes. */
export interface ResolvedMigration {
  /** [layers] the migration problem of each layer. */
  readonly layers: MigrationSpec[];
  readonly previousPlanId: string | null;
  readonly makespanTolerance: number;
  readonly maxMoves: number | null;
  readonly minImprovement: number;
  readonly maxLayers: number | null;
  /** Unit of move costs: "bytes" (default from the architecture), "units" (one per unit) or "caller". */
  readonly moveCostUnit: string;
  /** Id of the re-plan: the fresh request's id combined with the previous placement and options. */
  readonly id: string;
}

/**
 * Checks the previous placement against the new problem and resolves the options.
 * @param previousPlan the stored plan named by previous.planId (the caller looks it up), if any
 * Throws PREVIOUS_MISMATCH (422) when the placement does not fit: another model, granularity,
 * layer count or unit count; INVALID_PROBLEM for options that do not fit the problem.
 */
export function resolveMigration(
  request: PlanRequest & { readonly previous: PreviousPlacement; readonly migration?: MigrationOptions },
  resolved: ResolvedRequest,
  context: PlanningContext,
  previousPlan?: PreviousPlan,
): ResolvedMigration {
  const previous = placementOf(request.previous, resolved, previousPlan);
  const options = request.migration ?? {};
  const makespanTolerance = options.makespanTolerance ?? DEFAULT_MAKESPAN_TOLERANCE;
  if (!(Number.isFinite(makespanTolerance) && makespanTolerance >= 0)) {
    throw invalid('/migration/makespanTolerance', 'minimum', 'makespanTolerance must be a finite number >= 0');
  }
  const { moveCosts, moveCostUnit } = moveCostsOf(request, resolved, context);
  checkGpuDistance(options.gpuDistance, previous, resolved.speeds.length);
  const minImprovement = checkLimits(options);
  const layers = previous.map(
    (row): MigrationSpec => ({
      previous: row,
      moveCosts,
      makespanTolerance,
      ...(options.gpuDistance ? { gpuDistance: options.gpuDistance } : {}),
      ...(options.maxMoves !== undefined ? { maxMoves: options.maxMoves } : {}),
    }),
  );
  const key = {
    fresh: resolved.id,
    previous,
    moveCosts,
    makespanTolerance,
    maxMoves: options.maxMoves ?? null,
    gpuDistance: options.gpuDistance ?? null,
    minImprovement,
    maxLayers: options.maxLayers ?? null,
  };
  return {
    layers,
    previousPlanId: previousPlan?.id ?? null,
    makespanTolerance,
    maxMoves: options.maxMoves ?? null,
    minImprovement,
    maxLayers: options.maxLayers ?? null,
    moveCostUnit,
    id: createHash('sha256').update(canonicalJson(key)).digest('hex').slice(0, 32),
  };
}

/** [units] the cost of moving each unit: the caller's, else bytes from the architecture, else 1. */
function moveCostsOf(
  request: PlanRequest & { readonly migration?: MigrationOptions },
  resolved: ResolvedRequest,
  context: PlanningContext,
): { moveCosts: number[]; moveCostUnit: string } {
  const units = resolved.layers[0].costs.length;
  const given = request.migration?.moveCost;
  if (given) {
    if (given.length !== units) {
      throw invalid('/migration/moveCost', 'length', `moveCost has ${given.length} entries for ${units} units`);
    }
    given.forEach((c, u) => {
      if (!(Number.isFinite(c) && c >= 0)) {
        throw invalid(`/migration/moveCost/${u}`, 'minimum', `move cost of unit ${u} must be a finite number >= 0`);
      }
    });
    return { moveCosts: [...given], moveCostUnit: 'caller' };
  }
  const architecture = architectureOf(request, context);
  return {
    moveCosts: new Array<number>(units).fill(architecture ? unitBytes(architecture, resolved) : 1),
    moveCostUnit: architecture ? 'bytes' : 'units',
  };
}

/** A GPU distance matrix must be square, cover every running and new GPU label, and hold finite numbers >= 0. */
function checkGpuDistance(
  rows: readonly (readonly number[])[] | undefined,
  previous: readonly (readonly number[])[],
  gpus: number,
): void {
  if (!rows) return;
  // A loop, not Math.max(...): a large body would overflow the argument list.
  let labels = gpus;
  for (const row of previous) for (const g of row) labels = Math.max(labels, g + 1);
  if (rows.length < labels || rows.some((row) => row.length !== rows.length)) {
    const rule = `gpuDistance must be a square matrix covering every GPU label (at least ${labels} x ${labels})`;
    throw invalid('/migration/gpuDistance', 'square', rule);
  }
  rows.forEach((row, a) =>
    row.forEach((d, b) => {
      if (!(Number.isFinite(d) && d >= 0))
        throw invalid(`/migration/gpuDistance/${a}/${b}`, 'minimum', 'distances must be finite numbers >= 0');
    }),
  );
}

/** Checks maxMoves, maxLayers and minImprovement; returns minImprovement (default 0). */
function checkLimits(options: MigrationOptions): number {
  const integerAtLeast0 = (value: number | undefined, pointer: string) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
      throw invalid(pointer, 'minimum', `${pointer.slice('/migration/'.length)} must be an integer >= 0`);
    }
  };
  integerAtLeast0(options.maxMoves, '/migration/maxMoves');
  integerAtLeast0(options.maxLayers, '/migration/maxLayers');
  const minImprovement = options.minImprovement ?? 0;
  if (!(Number.isFinite(minImprovement) && minImprovement >= 0)) {
    throw invalid('/migration/minImprovement', 'minimum', 'minImprovement must be a finite number >= 0');
  }
  return minImprovement;
}

/**
 * Bytes that travel when a unit changes GPU: its query heads' slices of q_proj and o_proj, and
 * its KV head's slices of k_proj and v_proj plus its KV cache at the workload's longest length (a
 * query head needs its KV head's copy on the new GPU). Weights are 2-byte elements; the KV cache
 * has the architecture's element size (hiddenSizeOf, headShapeOf).
 */
export function unitBytes(
  architecture: Architecture,
  resolved: Pick<ResolvedRequest, 'granularity' | 'kvSeqLen'>,
): number {
  const { queryHeads, kvHeads, headDim } = architecture;
  const hidden = hiddenSizeOf(architecture);
  const queryHeadsPerUnit = resolved.granularity === 'kv-group' ? queryHeads / kvHeads : 1;
  const queryWeights = queryHeadsPerUnit * 2 * hidden * headDim;
  const kvWeights = 2 * hidden * headDim;
  return (queryWeights + kvWeights) * ELEMENT_BYTES + kvBytes(resolved.kvSeqLen, headShapeOf(architecture));
}

function placementOf(
  previous: PreviousPlacement,
  resolved: ResolvedRequest,
  plan: PreviousPlan | undefined,
): number[][] {
  const layers = resolved.layers.length;
  const units = resolved.layers[0].costs.length;
  let rows: readonly (readonly number[])[];
  if (plan) {
    if (plan.model.id !== resolved.model.id) {
      const name = (id: string | null) => id ?? '(explicit costs)';
      throw mismatch(
        '/previous/planId',
        'model',
        `the previous plan is for model ${name(plan.model.id)}, the new problem for ${name(resolved.model.id)}`,
      );
    }
    if (plan.granularity !== resolved.granularity) {
      const detail = `the previous plan places ${plan.granularity} units, the new problem ${resolved.granularity} units`;
      throw mismatch('/previous/planId', 'granularity', detail);
    }
    rows = plan.layers.map((l) => l.unit2gpu);
  } else if (previous.unit2gpu) {
    rows = previous.unit2gpu;
  } else {
    throw invalid('/previous', 'oneOf', 'previous needs planId or unit2gpu');
  }
  const at = plan ? '/previous/planId' : '/previous/unit2gpu';
  if (rows.length !== layers)
    throw mismatch(at, 'layers', `the previous placement has ${rows.length} layers, the new problem ${layers}`);
  rows.forEach((row, l) => {
    if (row.length !== units) {
      throw mismatch(
        plan ? at : `${at}/${l}`,
        'units',
        `layer ${l} of the previous placement has ${row.length} units, the new problem ${units}`,
      );
    }
    row.forEach((g, u) => {
      if (!(Number.isInteger(g) && g >= 0))
        throw invalid(`${at}/${l}/${u}`, 'minimum', `GPU of layer ${l} unit ${u} must be an integer >= 0`);
    });
  });
  return rows.map((row) => [...row]);
}

function architectureOf(request: PlanRequest, context: PlanningContext): Architecture | null {
  if (request.model !== undefined) return context.resolveProfile(request.model).architecture;
  return request.profile?.architecture ?? null;
}

function mismatch(pointer: string, rule: string, message: string): HplbError {
  return new HplbError('PREVIOUS_MISMATCH', `${message}: the previous placement does not fit the new problem`, {
    pointer,
    rule,
  });
}

function invalid(pointer: string, rule: string, message: string): HplbError {
  return new HplbError('INVALID_PROBLEM', message, { pointer, rule });
}
