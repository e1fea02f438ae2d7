import type { HeadBudget } from '../profiles/profile.ts';

/** What the heads are doing: prefill of seqLen tokens, or one decode step at context seqLen. */
export interface Workload {
  readonly seqLen: number;
  readonly phase: 'prefill' | 'decode';
}

/** The long-context regime the paper targets. */
export const DEFAULT_WORKLOAD: Workload = Object.freeze({ seqLen: 131072, phase: 'prefill' });

/** Turns a head's budget and a workload into a cost. */
export interface CostModel {
  /** Stable name, e.g. "analytic" or "calibrated:<device>"; part of plan ids. */
  readonly name: string;
  /** Unit of every cost this model returns, e.g. "token-pairs" or "us". */
  readonly unit: string;
  /** Cost of one head with this budget under this workload, in `unit`. */
  headCost(budget: HeadBudget, workload: Workload): number;
}

/** Key positions one query row of a long enough sequence attends to under this budget (n for full). */
export function attendedTokens(budget: HeadBudget, seqLen: number): number {
  switch (budget.kind) {
    case 'vertical_slash':
      return budget.vertical + budget.slash;
    case 'streaming':
      return budget.sink + budget.recent;
    case 'full':
      return seqLen;
  }
}

/**
 * Score/value pairs a head computes: decode attends min(n, b) keys; causal prefill row r
 * (1-based) attends min(r, b), so the sum over rows is b(b+1)/2 + (n - b) b for b <= n and
 * n(n+1)/2 otherwise.
 */
export function attendedPairs(attended: number, workload: Workload): number {
  const n = workload.seqLen;
  const b = Math.min(attended, n);
  if (workload.phase === 'decode') return b;
  return (b * (b + 1)) / 2 + (n - b) * b;
}

/** The analytic default: cost = attended score/value pairs (unit "token-pairs"). */
export const ANALYTIC_COST_MODEL: CostModel = Object.freeze({
  name: 'analytic',
  unit: 'token-pairs',
  headCost(budget: HeadBudget, workload: Workload): number {
    return attendedPairs(attendedTokens(budget, workload.seqLen), workload);
  },
});
