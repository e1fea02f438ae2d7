/**
 * The work of a range of a head's query rows: what a part of a split head costs. Rows are
 * independent under causal attention, so a head's rows [start, end) can run on another GPU; they
 * do not cost alike (early rows attend fewer keys), so a part's cost follows the work of its rows:
 * the pairs the head's kernel executes for them (work.ts, rowRangeWork: MInference's tiles and
 * gathered columns, vertical_slash at its documented estimate).
 */
import type { CostModel, Workload } from './cost-model.ts';
import { prefillBlockPairs, TILE } from './work.ts';
import type { HeadBudget } from '../profiles/head-budget.ts';

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

/** A head's work per query block and its running sum ([blocks + 1], from 0). */
interface WorkTable {
  readonly block: readonly number[];
  readonly before: readonly number[];
}

/**
 * Work of rows [0, r): the blocks before r's block plus r's rows of its block, which grow
 * linearly (work.ts, prefillBlockPairs). The table is built once per budget and length in one
 * pass over the head: binary searches for row boundaries ask for many rows of the same head, and
 * profiles repeat few distinct budgets. The answer depends only on the arguments.
 */
function cumulativeWork(budget: HeadBudget, seqLen: number, r: number): number {
  if (r <= 0) return 0;
  const key = JSON.stringify([budget, seqLen]);
  let table = tables.get(key);
  if (!table) {
    if (tables.size >= TABLE_ENTRIES) tables.clear();
    const block = prefillBlockPairs(budget, seqLen);
    const before = [0];
    for (const pairs of block) before.push(before[before.length - 1] + pairs);
    table = { block, before };
    tables.set(key, table);
  }
  const index = Math.floor(r / TILE);
  if (index >= table.block.length) return table.before[table.block.length];
  const rows = Math.min(seqLen, (index + 1) * TILE) - index * TILE;
  return table.before[index] + (table.block[index] * (r - index * TILE)) / rows;
}

const tables = new Map<string, WorkTable>();

/**
 * A cost model's fixed cost of one head: what a head of a single query row costs (a calibration's
 * intercept plus one row's work; one tile's MACs for executed work, one pair for the analytic
 * model: next to nothing). Work that follows the rows is not fixed: parts of a head add up to its
 * work. A split head pays the fixed cost once per part; it is the default per-part overhead.
 */
export function fixedHeadCost(model: CostModel, workload: Workload): number {
  return model.headCost({ kind: 'full' }, { seqLen: 1, phase: workload.phase });
}
