/**
 * Cost models: a head's budget and a workload to a cost, and what one stored copy of a KV group
 * costs the GPU that holds it. The default is the hardware-neutral executed work (work.ts) in
 * MACs, the same on every machine; device rooflines (roofline.ts, microseconds), the nominal
 * "analytic" model and device calibrations (calibrated.ts) are chosen by name (registry.ts).
 */
import { HplbError } from '../errors.ts';
import { attendedTokens, type HeadBudget } from '../profiles/head-budget.ts';
import { executedMacs, headWork } from './work.ts';
import { DEFAULT_HEAD_SHAPE, kvProjectionMacs, type HeadShape } from './head-shape.ts';
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
  /**
   * Whether costs are times of one device, comparable across phases: decode (priced by KV groups
   * read) and workload mixes need such a model.
   */
  readonly time: boolean;
  /** Cost of one head with this budget under this workload, in `unit`; `shape` defaults to DEFAULT_HEAD_SHAPE. */
  headCost(budget: HeadBudget, workload: Workload, shape?: HeadShape): number;
  /**
   * Cost, in `unit`, of one stored copy of a KV group whose query heads have `budgets`, paid by
   * every GPU that stores it: prefill its K/V projection over the workload's tokens, decode one
   * read of its K/V cache. `hiddenSize` is the model's embedding width. Throws INVALID_PROBLEM
   * (pointer /costModel) when this model cannot price it, saying what to use instead.
   */
  groupCost(budgets: readonly HeadBudget[], workload: Workload, shape: HeadShape, hiddenSize: number): number;
}

/**
 * The refusal of a model that prices heads only: adding a group's projection or read in another
 * unit to its head costs would mix units.
 */
export function cannotPriceGroups(model: string, why: string): HplbError {
  return new HplbError(
    'INVALID_PROBLEM',
    `cost model "${model}" ${why}, so it cannot price what a stored KV group costs its GPU (prefill: the group's K/V projection; decode: one read of its K/V cache); use "executed-work" (prefill) or a roofline, e.g. "roofline:h100-sxm"`,
    { pointer: '/costModel', rule: 'groupCost' },
  );
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
  time: false,
  headCost(budget: HeadBudget, workload: Workload): number {
    return attendedPairs(attendedTokens(budget, workload.seqLen), workload);
  },
  groupCost(): number {
    throw cannotPriceGroups('analytic', 'counts nominal token pairs of attention only');
  },
});

/** Distinct (budget, workload, shape) costs a model keeps before starting afresh. */
const WORK_CACHE_ENTRIES = 4096;

/**
 * `cost` memoised per (budget, seqLen, phase, shape): profiles repeat few distinct budgets, and a
 * head's executed work walks every query block of a long prefill.
 */
export function memoiseHeadCost(
  cost: (budget: HeadBudget, workload: Workload, shape: HeadShape) => number,
): (budget: HeadBudget, workload: Workload, shape?: HeadShape) => number {
  const cache = new Map<string, number>();
  return (budget, workload, shape = DEFAULT_HEAD_SHAPE) => {
    const key = JSON.stringify([budget, workload.seqLen, workload.phase, shape.headDim, shape.dtypeBytes]);
    const known = cache.get(key);
    if (known !== undefined) return known;
    if (cache.size >= WORK_CACHE_ENTRIES) cache.clear();
    const value = cost(budget, workload, shape);
    cache.set(key, value);
    return value;
  };
}

/**
 * The default: executed work (work.ts) in MACs, the multiply-accumulates of QK^T and PV over the
 * pairs MInference's kernels run (2 d per pair; vertical_slash heads at the documented estimate),
 * and a stored KV group's K/V projection in prefill (kvProjectionMacs). Hardware-neutral: the
 * same numbers on every machine. Not a time: a decode step is priced by the bytes of the groups it
 * reads, which MACs cannot weigh against compute, so decode asks for a roofline. Head costs are
 * memoised per model object.
 */
export function createExecutedWorkCostModel(): CostModel {
  return Object.freeze({
    name: 'executed-work',
    unit: 'MAC',
    device: null,
    time: false,
    headCost: memoiseHeadCost((budget, workload, shape) => executedMacs(headWork(budget, workload).estimate, shape)),
    groupCost(_budgets: readonly HeadBudget[], workload: Workload, shape: HeadShape, hiddenSize: number): number {
      if (workload.phase === 'decode') {
        throw cannotPriceGroups(
          'executed-work',
          'counts multiply-accumulates, and a decode step is bound by the K/V bytes it reads',
        );
      }
      return kvProjectionMacs(workload.seqLen, hiddenSize, shape);
    },
  });
}
