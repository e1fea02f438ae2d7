import type { GLPK } from 'glpk.js/node';
import { kvFeatured } from '../kv/groups.ts';
import { solveKvLayer } from '../kv/kv-auto.ts';
import type { LayerEngine } from '../types.ts';
import { solveUnitLayer } from './unit-auto.ts';

export { GLPK_STRETCH, nextGlpkStretch } from './portfolio.ts';

/**
 * The default engine, a portfolio that keeps the best placement and the best bound any step
 * found, so it is never worse than greedy and its status and gap are true; `engine` in the result
 * names the step that produced the answer. Layers whose KV copies cost something or are capped,
 * and phase mixes, take the KV steps (kv/kv-auto.ts); the others the unit steps
 * (unit-auto.ts). Pure: what it does depends on its inputs only (GLPK's stretch included,
 * SolveOptions.glpkStretch).
 */
export function createAutoEngine(glpk: GLPK): LayerEngine {
  return {
    name: 'auto',
    solveLayer: (problem, options) =>
      kvFeatured(problem) ? solveKvLayer(glpk, problem, options) : solveUnitLayer(glpk, problem, options),
  };
}
