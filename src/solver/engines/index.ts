import type { GLPK } from 'glpk.js/node';
import type { LayerEngine } from '../types.ts';
import { createAutoEngine } from './auto.ts';
import { configSearchEngine } from './config-search.ts';
import { contiguousEngine } from './contiguous.ts';
import { greedyEngine } from './greedy.ts';
import { createIlpEngine } from './ilp.ts';

export type EngineName = 'auto' | 'ilp' | 'search' | 'greedy' | 'contiguous';
export const ENGINE_NAMES: readonly EngineName[] = ['auto', 'ilp', 'search', 'greedy', 'contiguous'];

/** Every engine, by name, on one loaded GLPK instance. */
export function createEngines(glpk: GLPK): Readonly<Record<EngineName, LayerEngine>> {
  return Object.freeze({
    auto: createAutoEngine(glpk),
    ilp: createIlpEngine(glpk),
    search: configSearchEngine,
    greedy: greedyEngine,
    contiguous: contiguousEngine,
  });
}
