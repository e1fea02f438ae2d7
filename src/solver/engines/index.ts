import type { GLPK } from 'glpk.js/node';
import type { LayerEngine } from '../types.ts';
import { createAutoEngine } from './auto.ts';
import { configSearchEngine } from './config-search.ts';
import { contiguousEngine } from './contiguous.ts';
import { greedyEngine } from './greedy.ts';
import { createIlpEngine } from './ilp.ts';
import { withSplits } from '../split/with-splits.ts';

export type EngineName = 'auto' | 'ilp' | 'search' | 'greedy' | 'contiguous';
export const ENGINE_NAMES: readonly EngineName[] = ['auto', 'ilp', 'search', 'greedy', 'contiguous'];

/** Every engine, by name, on one loaded GLPK instance; each also splits heads when a problem allows it. */
export function createEngines(glpk: GLPK): Readonly<Record<EngineName, LayerEngine>> {
  return Object.freeze({
    auto: withSplits(createAutoEngine(glpk), glpk, true),
    ilp: withSplits(createIlpEngine(glpk), glpk, true),
    search: withSplits(configSearchEngine, glpk, true),
    greedy: withSplits(greedyEngine, glpk, false),
    contiguous: withSplits(contiguousEngine, glpk, false),
  });
}
