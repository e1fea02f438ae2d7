/**
 * The work of a range of a head's query rows: what a part of a split head costs. Rows are
 * independent under causal attention, so a head's rows [start, end) can run on another GPU; they
 * do not cost alike (early rows attend fewer keys), so a part's cost follows the work of its rows.
 */
import { attendedTokens, type CostModel, type Workload } from './cost-model.ts';
import type { HeadBudget } from '../profiles/profile.ts';

/**
 * Score/value pairs of the query rows [start, end) of a causal prefill of `seqLen` rows under
 * `budget` (0 <= start <= end <= seqLen): row r (1-based) attends min(r, b) keys, b the budget's
 * attended tokens per row. `null` stands for a head whose pattern is unknown (explicit costs):
 * every row then counts one unit of work.
 */
export function headRowWork(budget: HeadBudget | null, seqLen: number, start: number, end: number): number {
  if (budget === null) return end - start;
  const b = Math.min(attendedTokens(budget, seqLen), seqLen);
  return causalPrefix(b, end) - causalPrefix(b, start);
}

/** Pairs of rows 1..r when each row attends min(row, b) keys. */
function causalPrefix(b: number, r: number): number {
  if (r <= b) return (r * (r + 1)) / 2;
  return (b * (b + 1)) / 2 + (r - b) * b;
}

/**
 * A cost model's fixed cost of one head: what a head attending to nothing costs (a calibration's
 * intercept; 0 for the analytic model). A split head pays it once per part; it is the default
 * per-part overhead.
 */
export function fixedHeadCost(model: CostModel, workload: Workload): number {
  return model.headCost({ kind: 'streaming', sink: 0, recent: 0 }, workload);
}
