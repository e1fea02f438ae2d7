/** Folds of an array's tails, for bounds on what the GPUs from a position on can still take. */

/** [n + 1] suffix folds: out[i] = xs[i] op xs[i + 1] op ... op init (out[n] = init). */
export function suffixFold(xs: readonly number[], op: (a: number, b: number) => number, init: number): number[] {
  const out = new Array<number>(xs.length + 1).fill(init);
  for (let i = xs.length - 1; i >= 0; i--) out[i] = op(xs[i], out[i + 1]);
  return out;
}

/** [n + 1] suffix sums: out[i] = xs[i] + ... + xs[n - 1]. */
export function suffixSums(xs: readonly number[]): number[] {
  return suffixFold(xs, (a, b) => a + b, 0);
}
