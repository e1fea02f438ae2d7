/**
 * One small typed way to build and run GLPK models (python-mip's `m += xsum(...)` in spirit): a
 * model collects its columns and rows in the order they are declared, so that the same calls give
 * the same LP (and GLPK the same path), and `solveModel` runs it and says what GLPK established.
 */
import type { GLPK, LP, Result } from 'glpk.js/node';

/** coef x column. */
export interface Term {
  readonly name: string;
  readonly coef: number;
}

/** A GLPK model under construction. Every method returns what it declared, to be referred to. */
export interface GlpkModel {
  /** An integer column in [lb, ub]. */
  integer(name: string, lb: number, ub: number): string;
  /** A binary column. GLPK resets binary bounds to [0, 1]: fix one with `row`, never with bounds. */
  binary(name: string): string;
  /** A continuous column >= lb, and <= ub when ub is finite. */
  continuous(name: string, lb: number, ub?: number): string;
  /** The row lb <= sum(terms) <= ub; -Infinity or Infinity for a side that is absent. */
  row(name: string, terms: readonly Term[], lb: number, ub: number): void;
  /** The objective to minimise (at least one term; a zero coefficient is fine). */
  minimise(terms: readonly Term[]): void;
  /** The LP in glpk.js's shape. */
  build(): LP;
}

export function createGlpkModel(glpk: GLPK, name: string): GlpkModel {
  const subjectTo: LP['subjectTo'] = [];
  const bounds: NonNullable<LP['bounds']> = [];
  const generals: string[] = [];
  const binaries: string[] = [];
  let objective: Term[] = [];
  const columnBounds = (lb: number, ub: number) =>
    Number.isFinite(ub) ? { type: glpk.GLP_DB, lb, ub } : { type: glpk.GLP_LO, lb, ub: 0 };
  return {
    integer(column, lb, ub) {
      generals.push(column);
      bounds.push({ name: column, ...columnBounds(lb, ub) });
      return column;
    },
    binary(column) {
      binaries.push(column);
      return column;
    },
    continuous(column, lb, ub = Infinity) {
      bounds.push({ name: column, ...columnBounds(lb, ub) });
      return column;
    },
    row(row, terms, lb, ub) {
      subjectTo.push({ name: row, vars: [...terms], bnds: rowBounds(glpk, lb, ub) });
    },
    minimise(terms) {
      objective = [...terms];
    },
    build: () => ({
      name,
      objective: { direction: glpk.GLP_MIN, name: 'objective', vars: objective },
      subjectTo,
      bounds,
      generals,
      binaries,
    }),
  };
}

function rowBounds(glpk: GLPK, lb: number, ub: number): { type: number; lb: number; ub: number } {
  const low = Number.isFinite(lb);
  const high = Number.isFinite(ub);
  if (low && high) return { type: lb === ub ? glpk.GLP_FX : glpk.GLP_DB, lb, ub };
  if (low) return { type: glpk.GLP_LO, lb, ub: 0 };
  if (high) return { type: glpk.GLP_UP, lb: 0, ub };
  return { type: glpk.GLP_FR, lb: 0, ub: 0 };
}

/**
 * What one GLPK run established. optimal: proven optimal within the mipgap asked for (z is the
 * objective); feasible: a solution, no proof; infeasible: none exists; stopped: GLPK stopped
 * (time) without a solution; failed: GLPK threw.
 */
export type GlpkAnswer =
  | { readonly status: 'optimal' | 'feasible'; readonly z: number; readonly vars: Readonly<Record<string, number>> }
  | { readonly status: 'infeasible' }
  | { readonly status: 'stopped' }
  | { readonly status: 'failed'; readonly reason: string };

/**
 * Runs a model with GLPK's presolver, messages off and a time limit of `timeLimitMs` less
 * `overheadMs` (GLPK checks its clock only between steps and spends time building the model).
 */
export function solveModel(
  glpk: GLPK,
  lp: LP,
  options: { readonly timeLimitMs: number; readonly overheadMs: number; readonly mipgap?: number },
): GlpkAnswer {
  let result: Result;
  try {
    result = glpk.solve(lp, {
      msglev: glpk.GLP_MSG_OFF,
      tmlim: Math.max(0.001, (options.timeLimitMs - options.overheadMs) / 1000),
      ...(options.mipgap !== undefined ? { mipgap: options.mipgap } : {}),
      presol: true,
    });
  } catch (error) {
    return { status: 'failed', reason: `GLPK failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const { status, z, vars } = result.result;
  if (status === glpk.GLP_NOFEAS) return { status: 'infeasible' };
  if (status === glpk.GLP_OPT) return { status: 'optimal', z, vars };
  if (status === glpk.GLP_FEAS) return { status: 'feasible', z, vars };
  return { status: 'stopped' };
}
