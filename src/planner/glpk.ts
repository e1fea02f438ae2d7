import GLPK, { type GLPK as GlpkInstance } from 'glpk.js/node';

/** Loads GLPK's WebAssembly module (once per thread: every caller shares the instance). */
let loading: Promise<GlpkInstance> | null = null;
let loaded: GlpkInstance | null = null;
export function loadGlpk(): Promise<GlpkInstance> {
  loading ??= GLPK().then((glpk) => (loaded = glpk));
  return loading;
}

/** The instance once loadGlpk has resolved on this thread, else null (synchronous callers). */
export function loadedGlpk(): GlpkInstance | null {
  return loaded;
}
