import GLPK, { type GLPK as GlpkInstance } from 'glpk.js/node';

/** Loads GLPK's WebAssembly module (once per thread: every caller shares the instance). */
let loading: Promise<GlpkInstance> | null = null;
export function loadGlpk(): Promise<GlpkInstance> {
  loading ??= GLPK();
  return loading;
}
