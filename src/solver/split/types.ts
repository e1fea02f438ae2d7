/**
 * Split heads: a unit's query rows cut into contiguous ranges (parts), each run on its own GPU.
 * Rows are independent under causal attention, so parts run in parallel and their outputs are
 * concatenated; every GPU holding a part also holds the unit's K and V.
 *
 * Costs are in the layer problem's cost unit. A unit's cost is `fixed + variable`: `variable`
 * follows its rows (a part costs the variable cost of its rows) and `fixed` is paid once by a
 * whole unit; every part of a split unit pays `partOverhead` instead (a kernel launch per part).
 */
import type { HeadBudget } from '../../profiles/profile.ts';
import type { LayerResult } from '../types.ts';

/** One head of a unit: its pattern (null: unknown, rows cost alike) and its variable cost. */
export interface SplitHead {
  readonly budget: HeadBudget | null;
  readonly variable: number;
}

/** What a unit's rows cost. */
export interface SplitUnit {
  /** Variable cost of all its rows (the sum of its heads'), <= the unit's cost. */
  readonly variable: number;
  /** Cost every part of this unit pays on top of its rows' cost when the unit is split. */
  readonly partOverhead: number;
  /** The heads of the unit (one for a query-head unit, the group's heads for a KV group). */
  readonly heads: readonly SplitHead[];
  /** KV group of the unit (the K and V a GPU holding a part must also hold). */
  readonly kvGroup: number;
}

/** The split limits of a layer and what its units' rows cost. */
export interface LayerSplits {
  /** Most units of the layer split into parts (0: no splits). */
  readonly maxSplitHeads: number;
  /** Most parts of one split unit (>= 2), each on a distinct GPU. */
  readonly maxPartsPerHead: number;
  /** Query rows of every unit (the prefill's sequence length). */
  readonly rows: number;
  /** [units] row costs of each unit, in the layer's unit order. */
  readonly units: readonly SplitUnit[];
  /**
   * Most KV heads stored, where units are their own KV groups (KV-group units, MHA heads) and a
   * KV-cache cap is set: each whole unit stores one and each part on another GPU one more. Query
   * heads that share groups are capped by the layer problem's maxStoredGroups instead.
   */
  readonly maxStoredKvHeads?: number;
}

/** A part of a split unit: rows [start, end) on one GPU, and its cost. */
export interface SplitPart {
  readonly unit: number;
  readonly gpu: number;
  readonly rows: [number, number];
  readonly cost: number;
}

/**
 * A layer answer with split units. unit2gpu is each unit's owner: its GPU when whole, the GPU of
 * its largest part (by cost and by rows) when split; the owners satisfy the units-per-GPU rule. gpu2units
 * lists every unit a GPU holds whole or a part of; permutation stays the owners' GPU-major order.
 */
export interface SplitLayerResult extends LayerResult {
  /** Parts of the split units, by unit then row. */
  readonly parts: SplitPart[];
  readonly splitHeads: number;
  /** [gpus] KV groups each GPU holds only for parts of units owned elsewhere. */
  readonly extraKvCopies: number[];
  /** The whole-unit answer it started from (its makespan). */
  readonly wholeMakespan: number;
  /** Why no split answer was kept although splits were found (they store more KV heads than the cap). */
  readonly splitsDeclined?: string;
}

/** A split placement before rows are rounded: parts carry a share of their unit's variable cost. */
export interface SharePlan {
  /** [units] owner GPU of each unit. */
  readonly unit2gpu: number[];
  /** unit -> its parts (owner included), shares summing to 1; absent for whole units. */
  readonly parts: Map<number, { gpu: number; share: number }[]>;
}
