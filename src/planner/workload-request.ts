/**
 * The workload of a plan request and what it costs: one phase (prefill of seqLen tokens, or a
 * decode step at context seqLen) or a mix of phases with weights, the cost model that prices it,
 * and the per-layer costs of heads and of stored KV groups in that model's unit.
 *
 * Decode is priced by the K/V bytes of the groups a GPU reads and a mix adds phases up, so both
 * need a time: their default cost model is DEFAULT_TIME_COST_MODEL, and a model that is not a time
 * (executed-work, analytic) is refused for them. A model that cannot price a stored group's
 * projection or read (analytic, a calibration) is refused for any profile: its head costs and a
 * group cost in another unit would not add up.
 */
import { DEFAULT_WORKLOAD, type CostModel, type Workload } from '../cost/cost-model.ts';
import { DEFAULT_TIME_COST_MODEL } from '../cost/roofline.ts';
import { headShapeOf, hiddenSizeOf, kvBytes } from '../cost/head-shape.ts';
import { HplbError } from '../errors.ts';
import type { Profile } from '../profiles/profile.ts';
import { sum } from '../solver/problem.ts';
import type { ProblemSpec } from '../solver/problem.ts';

/** One phase of a workload mix: how often it runs per request (weight > 0). */
export interface WorkloadPhase {
  readonly phase: Workload['phase'];
  readonly seqLen: number;
  readonly weight: number;
}

/** The workload field of a request: one phase (defaults filled in later) or a mix. */
export type WorkloadRequest = Partial<Workload> | { readonly mix: readonly WorkloadPhase[] };

/** The workload as a plan echoes it: one phase, or the mix. */
export type PlanWorkload = Workload | { readonly mix: WorkloadPhase[] };

/** A caution the plan carries: it was computed, but for something its data does not cover. */
export interface PlanWarning {
  readonly code: 'SEQ_LEN_BEYOND_CONTEXT';
  readonly message: string;
  readonly pointer: string;
}

export interface ResolvedWorkload {
  readonly workload: PlanWorkload;
  /** [phases] one phase of weight 1, or the mix in request order. */
  readonly phases: readonly WorkloadPhase[];
  /** Whether the request gave a mix (even of one phase): its objective is the weighted sum. */
  readonly mixed: boolean;
  /** The longest seqLen: the context a sequence's KV cache holds. */
  readonly kvSeqLen: number;
}

/** The request's workload with defaults filled in (DEFAULT_WORKLOAD for a single phase). */
export function resolveWorkload(request: WorkloadRequest | undefined): ResolvedWorkload {
  if (request !== undefined && 'mix' in request) {
    if ('seqLen' in request || 'phase' in request) {
      throw invalid('/workload/mix', 'oneOf', 'a mix replaces seqLen and phase: give one or the other');
    }
    const phases = request.mix.map(({ phase, seqLen, weight }) => ({ phase, seqLen, weight }));
    phases.forEach(({ weight }, i) => {
      if (!(Number.isFinite(weight) && weight > 0))
        throw invalid(
          `/workload/mix/${i}/weight`,
          'exclusiveMinimum',
          `weight must be a finite number > 0, got ${weight}`,
        );
    });
    return {
      workload: { mix: phases },
      phases,
      mixed: true,
      kvSeqLen: Math.max(...phases.map((p) => p.seqLen)),
    };
  }
  const workload: Workload = { ...DEFAULT_WORKLOAD, ...request };
  return { workload, phases: [{ ...workload, weight: 1 }], mixed: false, kvSeqLen: workload.seqLen };
}

/** Whether pricing the workload needs a time unit: a decode phase or a mix. */
export function needsTime(workload: ResolvedWorkload): boolean {
  return workload.mixed || workload.phases.some((p) => p.phase === 'decode');
}

/**
 * The cost model of a request on a profile: the named one, else DEFAULT_TIME_COST_MODEL when the
 * workload needs a time, else the context's default. Throws INVALID_PROBLEM (pointer /costModel,
 * rule timeUnit) when a named model is not a time and the workload needs one.
 */
export function chooseCostModel(
  name: string | undefined,
  workload: ResolvedWorkload,
  resolve: (name?: string) => CostModel,
): CostModel {
  const time = needsTime(workload);
  const model = resolve(name ?? (time ? DEFAULT_TIME_COST_MODEL : undefined));
  if (time && !model.time) {
    const what = workload.mixed ? 'a workload mix adds phases up' : 'a decode step is bound by the K/V bytes it reads';
    throw new HplbError(
      'INVALID_PROBLEM',
      `cost model "${model.name}" (unit ${model.unit}) is not a time, and ${what}: use a roofline, e.g. "${DEFAULT_TIME_COST_MODEL}" (the default for decode and mixes)`,
      { pointer: '/costModel', rule: 'timeUnit' },
    );
  }
  return model;
}

/** The cost fields of a ProblemSpec for a profile. */
export type PricedCosts = Pick<ProblemSpec, 'headCosts' | 'groupCosts' | 'phases'>;

/**
 * Costs of every head and of one stored copy of every KV group, per layer, in the cost model's
 * unit: [layers][queryHeads] and [layers][kvHeads]. With a mix, per phase, and headCosts and
 * groupCosts are then the weighted sums over phases.
 */
export function priceProfile(profile: Profile, costModel: CostModel, workload: ResolvedWorkload): PricedCosts {
  const { architecture } = profile;
  const shape = headShapeOf(architecture);
  const hidden = hiddenSizeOf(architecture);
  const groupSize = architecture.queryHeads / architecture.kvHeads;
  const perPhase = workload.phases.map((phase) => {
    const w: Workload = { seqLen: phase.seqLen, phase: phase.phase };
    return {
      weight: phase.weight,
      headCosts: profile.budgets.map((row) => row.map((budget) => costModel.headCost(budget, w, shape))),
      groupCosts: profile.budgets.map((row) =>
        Array.from({ length: architecture.kvHeads }, (_, k) =>
          costModel.groupCost(row.slice(k * groupSize, (k + 1) * groupSize), w, shape, hidden),
        ),
      ),
    };
  });
  if (!workload.mixed) return { headCosts: perPhase[0].headCosts, groupCosts: perPhase[0].groupCosts };
  return {
    headCosts: weightedSum(perPhase.map((p) => ({ weight: p.weight, rows: p.headCosts }))),
    groupCosts: weightedSum(perPhase.map((p) => ({ weight: p.weight, rows: p.groupCosts }))),
    phases: perPhase,
  };
}

/** sum_p weight_p x rows_p, entry by entry. */
function weightedSum(terms: readonly { weight: number; rows: readonly (readonly number[])[] }[]): number[][] {
  return terms[0].rows.map((row, l) => row.map((_, i) => sum(terms.map(({ weight, rows }) => weight * rows[l][i]))));
}

/** Warnings for phases longer than the profile's context length (none when it is not recorded). */
export function contextWarnings(profile: Profile | undefined, workload: ResolvedWorkload): PlanWarning[] {
  const limit = profile?.architecture.contextLength;
  if (limit === undefined) return [];
  return workload.phases.flatMap((phase, i) =>
    phase.seqLen > limit
      ? [
          {
            code: 'SEQ_LEN_BEYOND_CONTEXT' as const,
            message: `seqLen ${phase.seqLen} is beyond ${profile?.id}'s context length ${limit}: its budgets were measured for contexts up to it, so costs at this length are extrapolated`,
            pointer: workload.mixed ? `/workload/mix/${i}/seqLen` : '/workload/seqLen',
          },
        ]
      : [],
  );
}

/**
 * Bytes of one KV head's cache per layer per sequence at the workload's longest length
 * (2 x tokens x headDim x bytes per element); null without an architecture (explicit costs).
 */
export function kvHeadBytes(profile: Profile | undefined, workload: ResolvedWorkload): number | null {
  return profile ? kvBytes(workload.kvSeqLen, headShapeOf(profile.architecture)) : null;
}

function invalid(pointer: string, rule: string, message: string): HplbError {
  return new HplbError('INVALID_PROBLEM', message, { pointer, rule });
}
