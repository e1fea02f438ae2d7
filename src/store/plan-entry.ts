/**
 * A stored plan, ready to send: its JSON body and ETag computed once, and what re-plans and the
 * ranks route read besides the layers, so that neither parses the body.
 */
import type { Plan } from '../planner/plan.ts';

export interface PlanEntry {
  /** The plan's id. */
  readonly id: string;
  /** JSON text of the plan, UTF-8 encoded once, exactly as sent. The plan object itself is not kept: its heap is many times this. */
  readonly body: Buffer;
  /** Strong ETag (quoted) of `body`. */
  readonly etag: string;
  /** What re-plans and the ranks route read besides the layers: they never parse `body` on the event loop. */
  readonly facts: PlanFacts;
  /** [layers x units] GPU of each unit, layer after layer: the placement a re-plan starts from. */
  readonly unit2gpu: Int32Array;
}

/** A stored plan's shape. */
export interface PlanFacts {
  readonly modelId: string | null;
  readonly granularity: Plan['granularity'];
  readonly layers: number;
  /** Units of every layer (the length of each layer's unit2gpu and permutation). */
  readonly units: number;
}
