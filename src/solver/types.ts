/**
 * The placement problem and its answer: plain data shared by every engine.
 *
 * Costs are in the cost model's unit (token pairs for the analytic model, microseconds for a
 * calibrated one); a GPU's load is the sum of its units' costs divided by its relative speed, so
 * loads and makespans are in the same unit.
 */

import type { LayerSplits } from './split/types.ts';

/** What is placed: a query head, or a KV group (all query heads sharing one KV head). */
export type Granularity = 'query-head' | 'kv-group';

/** How many units each GPU may hold. */
export type UnitsPerGpu =
  | { readonly kind: 'equal' }
  | { readonly kind: 'max'; readonly max: number }
  | { readonly kind: 'free' };

/** One layer's placement problem, already resolved to units. */
export interface LayerProblem {
  /** Layer index in the model (0-based). */
  readonly layer: number;
  /** [units] cost of each unit. */
  readonly costs: readonly number[];
  /** [gpus] relative speed of each GPU (> 0); load = sum of costs / speed. */
  readonly speeds: readonly number[];
  /** Least units on every GPU (equal: units / gpus; otherwise 0). */
  readonly minUnitsPerGpu: number;
  /** Most units on every GPU (equal: units / gpus; max: N; free: units). */
  readonly maxUnitsPerGpu: number;
  /**
   * [units] KV group of each unit: present for query-head units that share KV heads (GQA with a
   * group limit, a KV-cache cap or group costs). KV-group units (and MHA heads) are their own
   * group: their groups' costs are folded into `costs` and this is absent.
   */
  readonly unit2group?: readonly number[];
  /** Most distinct KV groups on one GPU (query-head units only). */
  readonly maxGroupsPerGpu?: number;
  /**
   * [groups] what a GPU pays, in the cost unit, for each distinct KV group it stores (prefill: the
   * group's K/V projection; decode: reading the group's K/V cache once per step), on top of its
   * units' costs; a GPU's load is (sum of its units' costs + sum of its groups' costs) / speed.
   * Absent: 0. Only with unit2group.
   */
  readonly groupCosts?: readonly number[];
  /**
   * Most KV heads stored in this layer, summed over GPUs (a GPU stores one copy of every group it
   * runs a unit of): the KV-cache cap, floor(maxKvCacheFactor x contiguousKvHeads). Absent: no cap.
   * Only with unit2group.
   */
  readonly maxStoredGroups?: number;
  /**
   * KV heads the contiguous placement (engines/contiguous.ts) stores in this layer at this GPU
   * count: the KV-cache factor's denominator. Present whenever the layer knows its KV groups:
   * with unit2group, and when units are whole groups (KV-group units, MHA heads), where every
   * placement stores one KV head per unit. Absent for query-head GQA units without unit2group.
   */
  readonly contiguousKvHeads?: number;
  /**
   * A workload mix (two or more phases priced in one unit): the objective is the weighted sum of
   * the phases' makespans, sum_p weight_p x max_g load_p(g). `costs` and `groupCosts` are then
   * the weighted sums over phases (their makespan is a lower bound on the objective). Absent: one
   * phase, the objective is the makespan. A layer result's `makespan` is the objective and its
   * `gpuLoads` the weighted-sum loads (so max(gpuLoads) <= makespan).
   */
  readonly phases?: readonly LayerPhase[];
  /** [units] GPU a unit is pinned to, or -1 when free; absent when nothing is pinned. */
  readonly unit2pin?: readonly number[];
  /** Row costs and limits when units may be split by query rows (split/types.ts); absent: whole units only. */
  readonly splits?: LayerSplits;
}

/** One phase of a workload mix in a layer problem, in the problem's cost unit. */
export interface LayerPhase {
  /** How often the phase runs per request (e.g. 1 prefill, 500 decode steps): its weight (> 0). */
  readonly weight: number;
  /** [units] cost of each unit in this phase. */
  readonly costs: readonly number[];
  /** [groups] cost of each stored KV group in this phase; absent: 0. */
  readonly groupCosts?: readonly number[];
}

/**
 * optimal: proven (bound met); within_tolerance: proven within the requested gap; time_limit: the
 * search ran out of time, gap is true; greedy_fallback: the exact engine failed and greedy answered
 * (reason in fallbackReason); trivial: nothing to choose; heuristic: a heuristic engine was asked
 * for and its answer is not proven.
 */
export type LayerStatus = 'optimal' | 'within_tolerance' | 'time_limit' | 'greedy_fallback' | 'trivial' | 'heuristic';

/** One layer's answer, as it appears in a Plan (openapi.yaml's PlanLayer). */
export interface LayerResult {
  layer: number;
  /** [units] GPU index of each unit. */
  unit2gpu: number[];
  /** [gpus][...] units on each GPU, in permutation order (ascending unit id). */
  gpu2units: number[][];
  /** [units] logical unit id at each physical slot, GPU-major (physical_to_logical_map). */
  permutation: number[];
  /** [gpus] load of each GPU, in the cost unit. */
  gpuLoads: number[];
  makespan: number;
  lowerBound: number;
  /** (makespan - lowerBound) / makespan; 0 when makespan is 0. */
  gap: number;
  status: LayerStatus;
  /** Which engine produced this layer's answer. */
  engine: string;
  solveMs: number;
  /** Why the requested engine did not answer (set with greedy_fallback). */
  fallbackReason?: string;
  /**
   * [gpus] distinct KV groups (KV heads) each GPU stores; KV-group units (and MHA heads) count one
   * each. This and the three fields below are present when the layer knows its KV groups:
   * unit2group is present, or contiguousKvHeads is (units are whole groups).
   */
  kvHeadsPerGpu?: number[];
  /** Sum of kvHeadsPerGpu: KV heads stored in the layer. */
  kvHeadsStored?: number;
  /**
   * The second, lexicographic objective: fewest KV heads stored among placements whose makespan
   * is at most this layer's. optimal: kvHeadsStored is proven least (it meets kvLowerBound, or a
   * search or GLPK proved nothing stores fewer); otherwise time_limit or heuristic.
   */
  kvStatus?: LayerStatus;
  /** A valid lower bound on KV heads stored by any placement within the layer's makespan. */
  kvLowerBound?: number;
  /** With a workload mix: [phases] makespan of each phase (the objective is their weighted sum). */
  phaseMakespans?: number[];
}

/** Options every engine honours. */
export interface SolveOptions {
  /** Wall-clock budget for this layer, in milliseconds. */
  readonly timeLimitMs: number;
  /** Relative gap under which a plan counts as optimal within tolerance (e.g. 1e-4). */
  readonly gapTolerance: number;
  /** Monotonic clock in milliseconds; injected so tests can control time. */
  readonly now?: () => number;
  /** [units] a feasible placement to start from (e.g. greedy's), which the answer never loses to. */
  readonly incumbent?: readonly number[];
  /** A lower bound already proven for this layer (e.g. by an earlier, shorter run); auto starts from it. */
  readonly lowerBound?: number;
  /**
   * Called with the best placement and bound known before a step that may overrun the time limit,
   * so that whoever stops an overrunning engine can still answer with them.
   */
  readonly onProgress?: (progress: LayerProgress) => void;
  /**
   * GLPK's wall time over the time it is given (>= 1), as measured on the caller's thread: auto
   * gives GLPK the time left divided by it, so that GLPK's overrun stays inside the layer's time.
   * An input, so that equal inputs give equal answers; absent: GLPK_STRETCH (engines/ilp-solve.ts).
   * Whoever keeps the estimate (the thread that owns the GLPK instance) feeds onGlpkRun's
   * measurements into nextGlpkStretch and passes the result here.
   */
  readonly glpkStretch?: number;
  /** Hears every GLPK run of auto's that ran to its time limit: the time it was given and the wall time it took, ms. */
  readonly onGlpkRun?: (givenMs: number, tookMs: number) => void;
}

/** What an engine knows part-way: a feasible placement and a valid bound. */
export interface LayerProgress {
  /** [units] GPU index of each unit. */
  readonly unit2gpu: readonly number[];
  readonly lowerBound: number;
  /** The step that found the placement. */
  readonly engine: string;
}

/** An engine places one layer. Engines are pure: plain data in, plain data out. */
export interface LayerEngine {
  readonly name: string;
  solveLayer(problem: LayerProblem, options: SolveOptions): LayerResult;
}

/**
 * The one error an engine throws for running out of time before it has any placement. A
 * portfolio (auto) catches only this marker and moves on to its next step; every other error is
 * a bug or a typed HplbError and propagates.
 */
export class SearchTimeout extends Error {
  override readonly name = 'SearchTimeout';
}
