/**
 * `constraints.splits` of a plan request: checked, defaults filled in, and turned into each layer's
 * row costs (solver/split/types.ts). The per-part overhead defaults to the cost model's fixed cost
 * of a head (a calibration's intercept; 0 for the analytic model and for explicit costs).
 */
import type { Workload } from '../cost/cost-model.ts';
import { fixedHeadCost } from '../cost/row-range.ts';
import { HplbError } from '../errors.ts';
import { capOf } from '../solver/kv/layer-kv.ts';
import type { LayerSplits, SplitUnit } from '../solver/split/types.ts';
import type { RequestBasics, ResolvedSource } from './request-source.ts';

export interface SplitsRequest {
  /** Most heads (units) of a layer split into parts; 0 (default) turns splitting off. */
  readonly maxSplitHeads?: number;
  /** Most parts of one split head, each on its own GPU (default 2). */
  readonly maxPartsPerHead?: number;
  /** Cost every part of a split head pays on top of its rows' cost, per head, in the cost unit. */
  readonly partOverhead?: number;
}

/**
 * The split limits a plan uses (echoed by the plan and part of its id). An extra K and V copy of a
 * part is one KV head's cache: ResolvedRequest.kvHeadBytes (splits need a single phase).
 */
export interface ResolvedSplits {
  readonly maxSplitHeads: number;
  readonly maxPartsPerHead: number;
  readonly partOverhead: number;
}

/**
 * What splits read of a resolved request: its source and settings (request-source.ts; with units
 * that are their own KV groups, splits must keep the KV-cache cap), and the rest below.
 */
interface SplitContext
  extends Pick<ResolvedSource, 'profile' | 'costModel' | 'costs' | 'kvGroupSize'>,
    Pick<RequestBasics, 'granularity' | 'maxKvCacheFactor'> {
  /** The first phase's workload; splits need a single prefill. */
  readonly workload: Workload;
  /** Whether the request gave a workload mix (splits refuse it). */
  readonly mixed: boolean;
  readonly maxKvGroupsPerGpu: number | undefined;
  /** Whether the request re-plans from a previous placement. */
  readonly replan: boolean;
}

/**
 * The split limits of a request, or null when splitting is off (maxSplitHeads absent or 0).
 * Throws INVALID_PROBLEM naming the field for values out of range and for combinations splits do
 * not support: decode (one query row), a KV-group limit and a re-plan.
 */
export function resolveSplits(request: SplitsRequest | undefined, context: SplitContext): ResolvedSplits | null {
  const maxSplitHeads = request?.maxSplitHeads ?? 0;
  if (!(Number.isInteger(maxSplitHeads) && maxSplitHeads >= 0)) {
    throw invalid('maxSplitHeads', 'minimum', `maxSplitHeads must be an integer >= 0, got ${maxSplitHeads}`);
  }
  if (maxSplitHeads === 0) return null;
  const maxPartsPerHead = request?.maxPartsPerHead ?? 2;
  if (!(Number.isInteger(maxPartsPerHead) && maxPartsPerHead >= 2)) {
    throw invalid('maxPartsPerHead', 'minimum', `maxPartsPerHead must be an integer >= 2, got ${maxPartsPerHead}`);
  }
  if (context.mixed || context.workload.phase !== 'prefill') {
    const why =
      'heads are split by query rows and a decode step has one query row: splits need a single prefill workload (no decode, no mix)';
    throw invalid('maxSplitHeads', 'phase', why);
  }
  if (context.replan) {
    const why = 'splits cannot be combined with a re-plan (previous): moves are counted for whole units';
    throw invalid('maxSplitHeads', 'combination', why);
  }
  if (context.maxKvGroupsPerGpu !== undefined) {
    const why = 'splits cannot be combined with maxKvGroupsPerGpu (a part brings its KV group onto another GPU)';
    throw invalid('maxSplitHeads', 'combination', why);
  }
  const fixed = context.profile ? fixedHeadCost(context.costModel, context.workload) : 0;
  const partOverhead = request?.partOverhead ?? fixed;
  if (!(Number.isFinite(partOverhead) && partOverhead >= 0)) {
    throw invalid('partOverhead', 'minimum', `partOverhead must be a finite number >= 0, got ${partOverhead}`);
  }
  return { maxSplitHeads, maxPartsPerHead, partOverhead };
}

/**
 * [layers] row costs of each layer's units, and where units are their own KV groups the cap on KV
 * heads stored (the layer problem caps only groups that query heads share). A head's cost splits into the cost model's fixed cost
 * (explicit costs: none) and a variable cost that follows its rows' work under its budget
 * (explicit costs: rows cost alike). A KV-group unit's parts run every head of the group, so
 * each part pays the overhead once per head. A unit that is its own KV group (a KV-group unit, an
 * MHA head) carries its group's cost in its own cost, and every part of it stores the group
 * again: each part pays that cost too. (Query heads that share a group pay its copies as the
 * layer's group costs, on the GPUs that hold them.)
 */
export function layerSplits(splits: ResolvedSplits, context: SplitContext): LayerSplits[] {
  const fixed = context.profile ? fixedHeadCost(context.costModel, context.workload) : 0;
  const groupSize = context.kvGroupSize;
  return context.costs.headCosts.map((row, layer) => {
    const ownGroup = context.granularity === 'kv-group' || groupSize === 1;
    const groupCost = (k: number): number => (ownGroup ? (context.costs.groupCosts?.[layer][k] ?? 0) : 0);
    const heads = row.map((cost, h) => ({
      budget: context.profile ? context.profile.budgets[layer][h] : null,
      variable: Math.max(0, cost - fixed),
    }));
    const units: SplitUnit[] =
      context.granularity === 'kv-group'
        ? Array.from({ length: row.length / groupSize }, (_, g) => {
            const members = heads.slice(g * groupSize, (g + 1) * groupSize);
            const variable = members.reduce((s, m) => s + m.variable, 0);
            const partOverhead = splits.partOverhead * groupSize + groupCost(g);
            return { variable, partOverhead, heads: members, kvGroup: g };
          })
        : heads.map((head, h) => ({
            variable: head.variable,
            partOverhead: splits.partOverhead + groupCost(Math.floor(h / groupSize)),
            heads: [head],
            kvGroup: Math.floor(h / groupSize),
          }));
    const { maxSplitHeads, maxPartsPerHead } = splits;
    // Whole, such units store one KV head each (the contiguous count); every extra part adds one.
    const cap = ownGroup && context.maxKvCacheFactor !== null ? capOf(context.maxKvCacheFactor, units.length) : null;
    return {
      maxSplitHeads,
      maxPartsPerHead,
      rows: context.workload.seqLen,
      units,
      ...(cap !== null ? { maxStoredKvHeads: cap } : {}),
    };
  });
}

function invalid(field: string, rule: string, message: string): HplbError {
  return new HplbError('INVALID_PROBLEM', message, { pointer: `/constraints/splits/${field}`, rule });
}
