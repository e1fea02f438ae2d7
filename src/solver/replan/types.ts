/**
 * Re-planning against a running placement: plain data shared by the migration solvers.
 *
 * GPU labels: the previous placement is in the labels of the running system ("old labels"); a
 * GPU index of the new problem is the same physical GPU as the old label with that index. A
 * previous label at or above the new GPU count names a GPU that is gone (drained): every unit on
 * it must move.
 */

/** What a layer's re-plan must respect besides the new problem. */
export interface MigrationSpec {
  /** [units] GPU each unit runs on now (old labels). */
  readonly previous: readonly number[];
  /** [units] cost of moving each unit once (bytes by default), >= 0. */
  readonly moveCosts: readonly number[];
  /**
   * [fromGpu][toGpu] factor on a move's cost (e.g. 1 inside a node, 4 across nodes); absent = 1.
   * Square, at least as large as the largest label of either placement.
   */
  readonly gpuDistance?: readonly (readonly number[])[];
  /** eps: the re-plan's makespan may be at most (1 + eps) times the best makespan known. */
  readonly makespanTolerance: number;
  /** Most units that may change GPU in this layer; absent = no limit. */
  readonly maxMoves?: number;
}

/** A unit that changes GPU. */
export interface Move {
  readonly unit: number;
  /** Old label of the GPU it leaves. */
  readonly from: number;
  /** GPU it goes to. */
  readonly to: number;
  /** moveCosts[unit] x gpuDistance[from][to]. */
  readonly cost: number;
}

/**
 * How well the move objective is known. optimal: proven minimal among placements whose makespan
 * is within the target; time_limit: the exact step ran out of time (moveLowerBound still true);
 * heuristic: no exact step ran or it failed (reason in moveFallbackReason).
 */
export type MoveStatus = 'optimal' | 'time_limit' | 'heuristic';

/** One layer's re-plan: the placement plus what it costs to reach it from the previous one. */
export interface LayerReplan {
  /** [units] GPU of each unit after the re-plan. */
  readonly unit2gpu: number[];
  readonly moves: Move[];
  readonly movedUnits: number;
  readonly moveCost: number;
  /** Best makespan the re-plan was measured against (C*; with maxMoves, the best under that limit). */
  readonly referenceMakespan: number;
  /** (1 + eps) x referenceMakespan: the makespan the move search had to respect. */
  readonly targetMakespan: number;
  readonly moveStatus: MoveStatus;
  /** Valid lower bound on the move cost of any placement within the target. */
  readonly moveLowerBound: number;
  /**
   * Which step produced the placement: previous (nothing moves), greedy (relabel or repair, then
   * swaps), search (exact move search, equal move costs), ilp (GLPK).
   */
  readonly moveEngine: 'previous' | 'greedy' | 'search' | 'ilp';
  readonly moveFallbackReason?: string;
}
