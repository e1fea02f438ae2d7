/**
 * SYNTHETIC attention heads for tests and demos: Q, K, V built so that the head's attention has a
 * known shape. They are not measured from any model; every head carries `synthetic: true`.
 *
 * Every head starts from Gaussian noise (q, k entries ~ N(0, noise^2), v entries ~ N(0, 1)) and
 * adds one structure, sized in logits (score units after the 1 / sqrt(d) scale):
 * - sink: keys [0, sinkTokens) get +strength on every query (dimension 0 of q and k).
 * - local: a sinc-like bump of height +strength around the diagonal, first zero at |i - j| =
 *   window. Built RoPE-style: `frequencies` pairs of dimensions carry cos/sin of position times
 *   jittered frequencies spread evenly over (0, pi / window].
 * - vertical: `stripes` key columns drawn at random get +strength on every query (dimension 0).
 * - diffuse: noise only (near uniform attention when noise is small).
 * Pure and deterministic: the same options and seed give the same arrays.
 */
import { HplbError } from '../errors.ts';
import { createGaussian, createRandom } from '../random.ts';
import type { AttentionInput } from './reference.ts';

export type SyntheticKind = 'sink' | 'local' | 'vertical' | 'diffuse';
export const SYNTHETIC_KINDS: readonly SyntheticKind[] = ['sink', 'local', 'vertical', 'diffuse'];

export interface SyntheticHeadOptions {
  readonly kind: SyntheticKind;
  /** Sequence length. */
  readonly n: number;
  /** Head dimension (>= 2 + 2 * frequencies for local heads). Default 64. */
  readonly d?: number;
  /** Seed of the generator (any 32-bit integer). Default 1. */
  readonly seed?: number;
  /** Standard deviation of the q and k noise. Default 0.5. */
  readonly noise?: number;
  /** Logit boost of the structure. Default 8. */
  readonly strength?: number;
  /** sink: how many leading keys are sinks. Default 4. */
  readonly sinkTokens?: number;
  /** local: distance of the bump's first zero. Default 32. */
  readonly window?: number;
  /** local: frequency pairs used. Default 16. */
  readonly frequencies?: number;
  /** vertical: how many stripe columns. Default 8. */
  readonly stripes?: number;
}

export interface SyntheticHead extends AttentionInput {
  readonly synthetic: true;
  readonly kind: SyntheticKind;
  /** The options with every default filled in. */
  readonly params: Required<SyntheticHeadOptions>;
  /** vertical heads: the stripe columns, ascending. */
  readonly stripeColumns: readonly number[];
}

/**
 * SYNTHETIC placement costs for solver tests and benchmarks: `count` pseudo-random integers in
 * [1e6, 1e7) from `seed`, almost surely all different, the hardest case for exact engines.
 */
export function distinctCosts(count: number, seed: number): number[] {
  const next = createRandom(seed);
  return Array.from({ length: count }, () => 1e6 + Math.floor(next() * 9e6));
}

/**
 * SYNTHETIC [layers][heads] log-normal costs (median 3000, sigma 0.6), almost surely all
 * different, from a seed: what an orchestrator's own per-head kernel timings look like.
 */
export function logNormalCosts(heads: number, layers: number, seed: number): number[][] {
  const gauss = createGaussian(createRandom(seed));
  return Array.from({ length: layers }, () => Array.from({ length: heads }, () => 3000 * Math.exp(0.6 * gauss())));
}

function withDefaults(options: SyntheticHeadOptions): Required<SyntheticHeadOptions> {
  return {
    d: 64,
    seed: 1,
    noise: 0.5,
    strength: 8,
    sinkTokens: 4,
    window: 32,
    frequencies: 16,
    stripes: 8,
    ...options,
  };
}

/** A synthetic head of the given kind; throws INVALID_PROBLEM for impossible parameters. */
export function syntheticHead(options: SyntheticHeadOptions): SyntheticHead {
  const params = withDefaults(options);
  const { kind, n, d, noise, strength, sinkTokens, window, frequencies, stripes } = params;
  if (!SYNTHETIC_KINDS.includes(kind))
    throw new HplbError('INVALID_PROBLEM', `unknown synthetic head kind ${kind}`, { pointer: '/kind' });
  if (!Number.isInteger(n) || n < 1)
    throw new HplbError('INVALID_PROBLEM', `n must be a positive integer, got ${n}`, { pointer: '/n' });
  const dims = kind === 'local' ? 2 * frequencies : 1;
  if (!Number.isInteger(d) || d < dims) {
    throw new HplbError('INVALID_PROBLEM', `d must be an integer >= ${dims} for a ${kind} head, got ${d}`, {
      pointer: '/d',
    });
  }
  const uniform = createRandom(params.seed);
  const gaussian = createGaussian(uniform);
  const q = Float32Array.from({ length: n * d }, () => noise * gaussian());
  const k = Float32Array.from({ length: n * d }, () => noise * gaussian());
  const v = Float32Array.from({ length: n * d }, () => gaussian());
  // a component of size a on both sides adds a^2 / sqrt(d) to the scaled score
  const amplitude = Math.sqrt(strength * Math.sqrt(d));
  let stripeColumns: number[] = [];
  if (kind === 'sink' || kind === 'vertical') {
    const boosted =
      kind === 'sink'
        ? Array.from({ length: Math.min(sinkTokens, n) }, (_, i) => i)
        : pickColumns(Math.min(stripes, n), n, uniform);
    stripeColumns = kind === 'vertical' ? boosted : [];
    for (let i = 0; i < n; i++) q[i * d] = amplitude;
    for (const column of boosted) k[column * d] = amplitude;
  } else if (kind === 'local') {
    const perPair = amplitude / Math.sqrt(frequencies);
    for (let f = 0; f < frequencies; f++) {
      const omega = (Math.PI / window) * ((f + uniform()) / frequencies);
      for (let i = 0; i < n; i++) {
        const c = perPair * Math.cos(omega * i);
        const s = perPair * Math.sin(omega * i);
        q[i * d + 2 * f] = c;
        q[i * d + 2 * f + 1] = s;
        k[i * d + 2 * f] = c;
        k[i * d + 2 * f + 1] = s;
      }
    }
  }
  return { synthetic: true, kind, params, stripeColumns, n, d, causal: true, q, k, v };
}

/** `count` distinct columns of [0, n), ascending. */
function pickColumns(count: number, n: number, uniform: () => number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(uniform() * n));
  return [...chosen].sort((a, b) => a - b);
}
