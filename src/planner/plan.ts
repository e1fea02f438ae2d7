import type { Granularity, LayerResult } from '../solver/types.ts';
import type { Workload } from '../cost/cost-model.ts';
import type { SplitPart } from '../solver/split/types.ts';

import type { EngineName } from '../solver/engines/index.ts';

export { ENGINE_NAMES, type EngineName } from '../solver/engines/index.ts';

/** Bumped whenever an engine change can change an answer; part of every plan id. */
export const ENGINE_VERSION = '1';

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

/** The plan's shape of DESIGN.md, shared by the CLI, the HTTP API, tests and clients. */
export interface Plan {
  id: string;
  model: { id: string | null; version: string | null };
  gpus: { count: number; speeds: number[] };
  granularity: Granularity;
  unitsPerGpu: string;
  maxKvGroupsPerGpu: number | null;
  workload: Workload;
  costModel: { name: string; unit: string };
  solver: { engine: EngineName; engineVersion: string; timeLimitMs: number; layerTimeLimitMs: number; gapTolerance: number };
  /** With splits only: the split limits used (partOverhead in the cost unit, per head and part). */
  splits?: { maxSplitHeads: number; maxPartsPerHead: number; partOverhead: number };
  layers: PlanLayer[];
  totals: PlanTotals;
}
