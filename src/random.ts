/**
 * Seeded pseudo-random numbers: deterministic runs of the solver's randomised searches and of the
 * synthetic inputs of tests, benches and calibration. A leaf module, so that the pure solver core
 * needs nothing from src/kernel.
 */

/** mulberry32: a small seeded uniform generator on [0, 1). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from a uniform generator (Box-Muller). */
export function createGaussian(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
