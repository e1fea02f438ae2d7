/**
 * The work of a range of a head's query rows: what a part of a split head costs. Rows are
 * independent under causal attention, so a head's rows [start, end) can run on another GPU; they
 * do not cost alike (early rows attend fewer keys), so a part's cost follows the work of its rows:
 * the pairs the head's kernel executes for them (work.ts, rowRangeWork: MInference's tiles and
 * gathered columns, vertical_slash at its documented estimate).
 */
import type { CostModel, Workload } from './cost-model.ts';
import { rowRangeWork } from './work.ts';
import type { HeadBudget } from '../profiles/head-budget.ts';

/** Rows per chunk of the cumulative table (64 query blocks): a lookup computes at most one chunk. */
const CHUNK_ROWS = 4096;
/** Distinct (budget, seqLen) tables kept before starting afresh. */
const TABLE_ENTRIES = 1024;

/**
 * Executed (query, key) pairs of the query rows [start, end) of a causal prefill of `seqLen` rows
 * under `budget` (0 <= start <= end <= seqLen). `null` stands for a head whose pattern is unknown
 * (explicit costs): every row then counts one unit of work.
 */
export function headRowWork(budget: HeadBudget | null, seqLen: number, start: number, end: number): number {
  if (budget === null) return end - start;
  return cumulativeWork(budget, seqLen, end) - cumulativeWork(budget, seqLen, start);
}

/**
 * Work of rows [0, r): a table of chunk sums (built once per budget and length) plus the partial
 * chunk. Memoised: binary searches for row boundaries ask for many rows of the same head, and
 * profiles repeat few distinct budgets. The answer depends only on the arguments.
 */
function cumulativeWork(budget: HeadBudget, seqLen: number, r: number): number {
  if (r <= 0) return 0;
  const workload = { seqLen, phase: 'prefill' as const };
  const key = JSON.stringify([budget, seqLen]);
  let table = tables.get(key);
  if (!table) {
    if (tables.size >= TABLE_ENTRIES) tables.clear();
    table = [0];
    for (let start = 0; start < seqLen; start += CHUNK_ROWS) {
      const end = Math.min(seqLen, start + CHUNK_ROWS);
      table.push(table[table.length - 1] + rowRangeWork(budget, workload, start, end).estimate.executedPairs);
    }
    tables.set(key, table);
  }
  const chunk = Math.floor(r / CHUNK_ROWS);
  const from = chunk * CHUNK_ROWS;
  return table[chunk] + (r > from ? rowRangeWork(budget, workload, from, r).estimate.executedPairs : 0);
}

const tables = new Map<string, number[]>();

/**
 * A cost model's fixed cost of one head: what a head of a single query row costs (a calibration's
 * intercept plus one row's work; one tile's MACs for executed work, one pair for the analytic
 * model: next to nothing). Work that follows the rows is not fixed: parts of a head add up to its
 * work. A split head pays the fixed cost once per part; it is the default per-part overhead.
 */
export function fixedHeadCost(model: CostModel, workload: Workload): number {
  return model.headCost({ kind: 'full' }, { seqLen: 1, phase: workload.phase });
}
