import type { Granularity, LayerResult } from '../solver/types.ts';
import type { Workload } from '../cost/cost-model.ts';
import type { SplitPart } from '../solver/split/types.ts';

import type { EngineName } from '../solver/engines/index.ts';
import type { LayerReplan, Move } from '../solver/replan/types.ts';

export { ENGINE_NAMES, type EngineName } from '../solver/engines/index.ts';

/** Bumped whenever an engine change can change an answer; part of every plan id. */
export const ENGINE_VERSION = '2';

/** A layer of a plan: the engine's answer plus the baselines it is compared with. */
export interface PlanLayer extends LayerResult {
  /** This layer's makespan under contiguous placement; null when that breaks a constraint. */
  contiguousMakespan: number | null;
  /** This layer's makespan under greedy placement; null when greedy found no placement. */
  greedyMakespan: number | null;
  /** With splits only: parts of the split units (rows [start, end) on a GPU, and their cost). */
  parts?: SplitPart[];
  /** With splits only: units of this layer split into parts. */
  splitHeads?: number;
  /** With splits only: [gpus] KV groups a GPU holds only for parts of units owned elsewhere. */
  extraKvCopies?: number[];
  /** With splits only: [gpus] bytes of those copies (seqLen x headDim x 2 x 2 bytes each); null without an architecture. */
  extraKvBytes?: number[] | null;
  /** With splits only: the makespan of the whole-unit answer the split started from. */
  wholeMakespan?: number;
  /** Present in a re-plan: how this layer gets from the running placement to this one. */
  migration?: LayerMigration;
}

/** A layer of a re-plan, against its running placement (GPU labels are the running ones). */
export interface LayerMigration {
  /** Units that change GPU; `round`: the transfer round (no GPU sends or receives twice in one). */
  moves: (Move & { round: number })[];
  movedUnits: number;
  moveCost: number;
  /** C*: the fresh plan's makespan of this layer. */
  optimalMakespan: number;
  /** The makespan the moves were minimised against (C*, or the best under maxMoves). */
  referenceMakespan: number;
  /** (1 + makespanTolerance) x referenceMakespan. */
  targetMakespan: number;
  /** makespan / optimalMakespan. */
  makespanVsOptimal: number;
  /** Makespan of the running placement in the new problem; null when it breaks a constraint. */
  previousMakespan: number | null;
  moveStatus: LayerReplan['moveStatus'];
  moveLowerBound: number;
  moveEngine: LayerReplan['moveEngine'];
  /** true: the layer keeps its running placement (improvement under minImprovement, or maxLayers). */
  keep: boolean;
  moveFallbackReason?: string;
}

export interface PlanTotals {
  /** Sum of layer makespans: the model's attention time, in the cost unit. */
  makespan: number;
  /** Sum of layer lower bounds. */
  lowerBound: number;
  /** (makespan - lowerBound) / makespan over the whole model. */
  gap: number;
  /** Sum of contiguous layer makespans; null when contiguous placement breaks a constraint. */
  contiguousMakespan: number | null;
  /** Sum of greedy layer makespans; null when greedy found no feasible placement of some layer. */
  greedyMakespan: number | null;
  /** contiguousMakespan / makespan; null when contiguous is infeasible. */
  speedupVsContiguous: number | null;
  /** 1 - (sum of mean GPU loads) / (sum of makespans): the share of GPU time spent waiting. */
  bubbleRatio: number;
  /** Layers whose status is optimal, within_tolerance or trivial. */
  layersProvenOptimal: number;
  /** Wall-clock time of the whole plan, in milliseconds. */
  solveMs: number;
  /** With splits only: sum over layers of total cost / summed speeds, the physical limit. */
  fluidBound?: number;
  /** With splits only: units split into parts, summed over layers. */
  splitHeads?: number;
}

/** The Plan (openapi.yaml, docs/architecture.md), shared by the CLI, the HTTP API, tests and clients. */
export interface Plan {
  id: string;
  model: { id: string | null; version: string | null };
  gpus: { count: number; speeds: number[] };
  granularity: Granularity;
  unitsPerGpu: string;
  maxKvGroupsPerGpu: number | null;
  workload: Workload;
  costModel: { name: string; unit: string; device: string | null };
  solver: {
    engine: EngineName;
    engineVersion: string;
    timeLimitMs: number;
    layerTimeLimitMs: number;
    gapTolerance: number;
  };
  /** With splits only: the split limits used (partOverhead in the cost unit, per head and part). */
  splits?: { maxSplitHeads: number; maxPartsPerHead: number; partOverhead: number };
  layers: PlanLayer[];
  totals: PlanTotals;
  /** Present in a re-plan: the options used and the plan's move totals. */
  migration?: {
    previousPlanId: string | null;
    makespanTolerance: number;
    maxMoves: number | null;
    minImprovement: number;
    maxLayers: number | null;
    /** "bytes", "units" (explicit costs, one per unit) or "caller" (an explicit moveCost). */
    moveCostUnit: string;
    totals: {
      movedUnits: number;
      moveCost: number;
      /** Transfer rounds over the whole plan. */
      rounds: number;
      layersChanged: number;
      layersKept: number;
      /** Layers whose move cost is proven minimal. */
      layersMovesProven: number;
      /** Sum of the fresh plan's layer makespans. */
      optimalMakespan: number;
      makespanVsOptimal: number;
    };
  };
}
