import GLPK, { type GLPK as GlpkInstance } from 'glpk.js/node';

/**
 * Loads a GLPK WebAssembly instance. No instance is kept here: whoever loads one owns it and
 * passes it on (the engines, a re-plan's migration step), so a thread that never loaded GLPK
 * cannot run an ILP step by accident and none is skipped silently.
 */
export function loadGlpk(): Promise<GlpkInstance> {
  return GLPK();
}
