/**
 * Cost models: a head's budget and a workload to a cost. The default is the hardware-neutral
 * executed work (work.ts) in MACs, the same on every machine; the nominal "analytic" model and
 * device calibrations (calibrated.ts) are chosen by name (registry.ts).
 */
import { attendedTokens, type HeadBudget } from '../profiles/head-budget.ts';
import { DEFAULT_HEAD_SHAPE, executedMacs, headWork, type HeadShape } from './work.ts';
import type { Workload } from './workload.ts';

export { DEFAULT_WORKLOAD, type Workload } from './workload.ts';

/** Turns a head's budget and a workload into a cost. */
export interface CostModel {
  /** Stable name, e.g. "executed-work", "analytic" or "calibrated:<device>"; part of plan ids. */
  readonly name: string;
  /** Unit of every cost this model returns, e.g. "MAC", "token-pairs" or "us". */
  readonly unit: string;
  /** Where the unit was measured: null for hardware-neutral counts, else the device of a calibration. */
  readonly device: string | null;
  /** Cost of one head with this budget under this workload, in `unit`; `shape` defaults to DEFAULT_HEAD_SHAPE. */
  headCost(budget: HeadBudget, workload: Workload, shape?: HeadShape): number;
}

/**
 * Nominal score/value pairs of `attended` keys per row: decode attends min(n, b) keys; causal
 * prefill row r (1-based) attends min(r, b), so the sum over rows is b(b+1)/2 + (n - b) b for
 * b <= n and n(n+1)/2 otherwise.
 */
export function attendedPairs(attended: number, workload: Workload): number {
  const n = workload.seqLen;
  const b = Math.min(attended, n);
  if (workload.phase === 'decode') return b;
  return (b * (b + 1)) / 2 + (n - b) * b;
}

/**
 * The nominal model, by name only: cost = the pairs the budget's line counts name (unit
 * "token-pairs"), not what a kernel executes. Kept for comparison with the published budgets.
 */
export const ANALYTIC_COST_MODEL: CostModel = Object.freeze({
  name: 'analytic',
  unit: 'token-pairs',
  device: null,
  headCost(budget: HeadBudget, workload: Workload): number {
    return attendedPairs(attendedTokens(budget, workload.seqLen), workload);
  },
});

/** Distinct (budget, workload, shape) costs an executed-work model keeps before starting afresh. */
const WORK_CACHE_ENTRIES = 4096;

/**
 * The default: executed work (work.ts) in MACs, the multiply-accumulates of QK^T and PV over the
 * pairs MInference's kernels run (2 d per pair; vertical_slash heads at the documented estimate).
 * Hardware-neutral: the same numbers on every machine. Costs are memoised per model object
 * (profiles repeat few distinct budgets).
 */
export function createExecutedWorkCostModel(): CostModel {
  const cache = new Map<string, number>();
  return Object.freeze({
    name: 'executed-work',
    unit: 'MAC',
    device: null,
    headCost(budget: HeadBudget, workload: Workload, shape: HeadShape = DEFAULT_HEAD_SHAPE): number {
      const key = JSON.stringify([budget, workload.seqLen, workload.phase, shape.headDim, shape.dtypeBytes]);
      const known = cache.get(key);
      if (known !== undefined) return known;
      if (cache.size >= WORK_CACHE_ENTRIES) cache.clear();
      const cost = executedMacs(headWork(budget, workload).estimate, shape);
      cache.set(key, cost);
      return cost;
    },
  });
}
