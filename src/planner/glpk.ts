import GLPK, { type GLPK as GlpkInstance } from 'glpk.js/node';

/**
 * Loads a GLPK WebAssembly instance that prints nothing. No instance is kept here: whoever loads one owns it and
 * passes it on (the engines, a re-plan's migration step), so a thread that never loaded GLPK
 * cannot run an ILP step by accident and none is skipped silently.
 */
export async function loadGlpk(): Promise<GlpkInstance> {
  // GLPK writes some messages whatever msg_lev says (its MIP presolver's "Constructing initial
  // basis..." from the split MILP, for one), through console.log as it was when the instance
  // started: glpk.js/node takes no print option, so console.log is a no-op until the instance
  // holds its own, and GLPK's terminal output goes nowhere. Answers carry GLPK's statuses.
  const log = console.log;
  console.log = () => {};
  try {
    return await GLPK();
  } finally {
    console.log = log;
  }
}
