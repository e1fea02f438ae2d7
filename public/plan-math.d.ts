// Types of plan-math.js for the TypeScript code that imports it.

/** 1 - meanLoad / makespan, the share of GPU time spent waiting for the slowest GPU; 0 when makespan is 0. */
export function bubbleRatio(meanLoad: number, makespan: number): number;

/** A step of 1, 2 or 5 times a power of ten giving about `ticks` intervals up to max (1 when max <= 0). */
export function niceStep(max: number, ticks?: number): number;

/** Decimals that show every multiple of a niceStep step exactly (0.5 -> 1, 20 -> 0). */
export function stepDigits(step: number): number;

/** An axis range on multiples of a nice step (about `ticks`) covering `values`, at least `span` wide. */
export function niceRange(
  values: readonly number[],
  span: number,
  ticks?: number,
): { lo: number; hi: number; step: number };

/** [gpus] KV heads contiguous placement stores on each GPU (units [g*k, (g+1)*k), k = ceil(units / gpus)). */
export function contiguousKvHeadsPerGpu(units: number, gpus: number, unitsPerGroup: number): number[];
