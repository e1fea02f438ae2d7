/**
 * Plain TypeScript attention, the reference the GPU.js kernels are checked against: dense
 * (causal or not) and masked dense (softmax over exactly the positions a mask keeps). Scores and
 * sums in float64. Pure: no GPU.js here.
 */
import { HplbError } from '../errors.ts';
import { denseMask, validateShape, type AttentionShape } from './pattern.ts';

/**
 * What attention scores need, row-major float32: q is [queries * d] (the last `queries`
 * positions), k is [n * d]. Scores are q . k * `scale` (default 1 / sqrt(d)).
 */
export interface ScoreInput extends AttentionShape {
  readonly d: number;
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly scale?: number;
}

/** One head's attention inputs: scores plus v, [n * d]. */
export interface AttentionInput extends ScoreInput {
  readonly v: Float32Array;
}

/** Query rows of an input (n unless `queries` says otherwise). */
export function queryRows(input: AttentionShape): number {
  return input.queries ?? input.n;
}

/** The score scale of an input: `scale` or 1 / sqrt(d). */
export function scoreScale(input: ScoreInput): number {
  return input.scale ?? 1 / Math.sqrt(input.d);
}

/** Checks sizes and finiteness of q, k (and v when present); throws INVALID_PROBLEM naming the field. */
export function validateInput(input: ScoreInput & { readonly v?: Float32Array }): void {
  validateShape(input);
  if (!Number.isInteger(input.d) || input.d < 1) {
    throw new HplbError('INVALID_PROBLEM', `d must be a positive integer, got ${input.d}`, { pointer: '/d' });
  }
  const expected = { q: queryRows(input) * input.d, k: input.n * input.d, v: input.n * input.d };
  for (const name of ['q', 'k', 'v'] as const) {
    const values = input[name];
    if (values === undefined) continue;
    if (values.length !== expected[name]) {
      throw new HplbError('INVALID_PROBLEM', `${name} must hold ${expected[name]} values, got ${values.length}`, {
        pointer: `/${name}`,
      });
    }
    if (!values.every(Number.isFinite)) {
      throw new HplbError('INVALID_PROBLEM', `${name} holds a non-finite value`, { pointer: `/${name}` });
    }
  }
  const scale = scoreScale(input);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new HplbError('INVALID_PROBLEM', `scale must be a positive number, got ${scale}`, { pointer: '/scale' });
  }
}

/**
 * Row r's scaled scores against every key, into `out` (length n): q[r] . k[key] * scale.
 */
export function rowScores(input: ScoreInput, r: number, out: Float64Array): void {
  const { d, n, q, k } = input;
  const scale = scoreScale(input);
  const qStart = r * d;
  for (let key = 0; key < n; key++) {
    const kStart = key * d;
    let dot = 0;
    for (let t = 0; t < d; t++) dot += q[qStart + t] * k[kStart + t];
    out[key] = dot * scale;
  }
}

/**
 * Attention with softmax over exactly the positions `mask` keeps ([rows * n], 1 = kept; every
 * row must keep at least one). Returns the output, [rows * d] float32.
 */
export function maskedAttention(input: AttentionInput, mask: Uint8Array): Float32Array {
  validateInput(input);
  const { n, d, v } = input;
  const rows = queryRows(input);
  if (mask.length !== rows * n) {
    throw new HplbError('INVALID_PROBLEM', `mask must hold ${rows * n} values, got ${mask.length}`, {
      pointer: '/mask',
    });
  }
  const out = new Float32Array(rows * d);
  const scores = new Float64Array(n);
  const acc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    rowScores(input, r, scores);
    let max = -Infinity;
    for (let key = 0; key < n; key++) if (mask[r * n + key] && scores[key] > max) max = scores[key];
    if (max === -Infinity) throw new HplbError('INVALID_PROBLEM', `mask row ${r} selects no key`, { pointer: '/mask' });
    acc.fill(0);
    let total = 0;
    for (let key = 0; key < n; key++) {
      if (!mask[r * n + key]) continue;
      const weight = Math.exp(scores[key] - max);
      total += weight;
      for (let t = 0; t < d; t++) acc[t] += weight * v[key * d + t];
    }
    for (let t = 0; t < d; t++) out[r * d + t] = acc[t] / total;
  }
  return out;
}

/** Dense attention (every causal key, or every key), [rows * d] float32. */
export function denseAttention(input: AttentionInput): Float32Array {
  return maskedAttention(input, denseMask(input));
}

/** Largest absolute elementwise difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new HplbError('INVALID_PROBLEM', `lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
