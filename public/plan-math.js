// Plan arithmetic shared by the page and the Node code (the plan's totals, the evaluation and its
// plots import it through plan-math.d.ts): one formula each, plain JavaScript so the browser loads
// it as it is.

/** 1 - mean load / makespan; mean load does not depend on placement, so it also gives other placements' bubbles. */
export function bubbleRatio(meanLoad, makespan) {
  return makespan > 0 ? 1 - meanLoad / makespan : 0;
}

/** A step of 1, 2 or 5 times a power of ten giving about `ticks` intervals up to max. */
export function niceStep(max, ticks = 5) {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((step) => step >= raw * (1 - 1e-12));
}

/** Decimals that show every multiple of a niceStep step exactly (0.5 -> 1, 20 -> 0). */
export function stepDigits(step) {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/**
 * An axis range { lo, hi, step } on multiples of a nice step (about `ticks` of them) covering
 * `values` and at least `span` wide, so that a single value still gets a readable axis.
 */
export function niceRange(values, span, ticks = 5) {
  const lo0 = Math.min(...values);
  const hi0 = Math.max(...values, lo0 + span);
  const step = niceStep((hi0 - lo0) * 1.1, ticks);
  return { lo: Math.floor(lo0 / step + 1e-9) * step, hi: Math.ceil((hi0 * 1.0001) / step - 1e-9) * step, step };
}

/**
 * [gpus] KV heads the contiguous placement stores on each GPU: units [g*k, (g+1)*k) on GPU g with
 * k = ceil(units / gpus), each GPU storing the distinct KV groups of its units (unit u is in group
 * floor(u / unitsPerGroup): the query heads per KV group for query-head units, 1 for KV-group units).
 */
export function contiguousKvHeadsPerGpu(units, gpus, unitsPerGroup) {
  const perGpu = Math.ceil(units / gpus);
  return Array.from({ length: gpus }, (_, g) => {
    const first = g * perGpu;
    const last = Math.min(units, first + perGpu) - 1;
    return last < first ? 0 : Math.floor(last / unitsPerGroup) - Math.floor(first / unitsPerGroup) + 1;
  });
}
