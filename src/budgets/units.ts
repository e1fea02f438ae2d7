/**
 * Budget units and the explicit conversions between them. A budget is a count in one of three
 * units, and the numbers of different units never mix silently:
 * - 'keys-per-row': keys a query row attends (a streaming window, a full head: n);
 * - 'blocks': key blocks of 64 per query block (MInference's block_sparse top-k);
 * - 'lines': vertical_slash lines, columns and diagonals (MInference's vertical_size and
 *   slash_size; the exact-line recovery curves of src/kernel/recovery.ts).
 * Conversions to keys per row are taken at a sequence length, causal prefill, averaged over rows.
 * A budget measured at one sequence length and used at another is carried over by a stated rule
 * (rescaleBudget) or refused. Pure.
 */
import { HplbError } from '../errors.ts';
import { headWork, TILE } from '../cost/work.ts';

export const BUDGET_UNITS = ['keys-per-row', 'blocks', 'lines'] as const;
export type BudgetUnit = (typeof BUDGET_UNITS)[number];

/** How a budget carries over to another sequence length. */
export type RescaleRule = 'fixed' | 'proportional';

/**
 * Mean keys per row of MInference's block picker keeping `blocks` key blocks of 64 per query block
 * (its kernel runs min(query block + 1, blocks) of them), assuming the diagonal block is among them
 * (its causal part counts): row p of query block qb attends p + 1 keys when qb < blocks, else
 * (blocks - 1) * 64 + (p - 64 qb + 1).
 */
export function blocksToKeysPerRow(blocks: number, seqLen: number): number {
  checkCount(blocks, 'blocks');
  checkCount(seqLen, 'seqLen');
  let total = 0;
  for (let start = 0; start < seqLen; start += TILE) {
    const qb = start / TILE;
    const rows = Math.min(TILE, seqLen - start);
    // sum over the block's rows of (p - start + 1), plus the full blocks before it
    const diagonal = (rows * (rows + 1)) / 2;
    total += diagonal + rows * TILE * Math.min(qb, blocks - 1);
  }
  return total / seqLen;
}

/** The fewest 64-key blocks whose keys cover `keysPerRow` keys: ceil(keysPerRow / 64). */
export function keysPerRowToBlocks(keysPerRow: number): number {
  if (!(keysPerRow > 0) || !Number.isFinite(keysPerRow)) {
    throw new HplbError('VALIDATION_FAILED', `keys per row must be a positive number, got ${keysPerRow}`, {
      pointer: '/budget',
    });
  }
  return Math.ceil(keysPerRow / TILE);
}

/**
 * Mean keys per row MInference's vertical_slash kernel runs for `vertical` columns and `slash`
 * diagonals (lines) at seqLen: the executed-work estimate's causal pairs / rows (src/cost/work.ts),
 * with its range. Lines alone, without the split between columns and diagonals, have no keys-per-row
 * value: the two cost very different work.
 */
export function linesToKeysPerRow(
  lines: { readonly vertical: number; readonly slash: number },
  seqLen: number,
): { estimate: number; low: number; high: number } {
  checkCount(seqLen, 'seqLen');
  const work = headWork({ kind: 'vertical_slash', ...lines }, { seqLen, phase: 'prefill' });
  return { estimate: work.estimate.pairs / seqLen, low: work.low.pairs / seqLen, high: work.high.pairs / seqLen };
}

/**
 * A budget of `value` measured at sequence length `from`, used at `to`: unchanged when the
 * lengths agree; otherwise 'fixed' keeps the count (MInference's sizes do not change with the
 * length), 'proportional' scales it by to / from, rounded up (the same density). Without a rule
 * the lengths must agree: throws VALIDATION_FAILED at /rescale.
 */
export function rescaleBudget(value: number, from: number, to: number, rule: RescaleRule | undefined): number {
  if (from === to) return value;
  if (rule === undefined) {
    throw new HplbError(
      'VALIDATION_FAILED',
      `budgets measured at ${from} tokens cannot be costed at ${to} tokens without a rule: ` +
        `set rescale to "fixed" (keep the counts) or "proportional" (scale by ${to}/${from})`,
      { pointer: '/rescale' },
    );
  }
  return rule === 'fixed' ? value : Math.ceil((value * to) / from);
}

function checkCount(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1)
    throw new HplbError('VALIDATION_FAILED', `${name} must be a positive integer, got ${value}`, {
      pointer: `/${name}`,
    });
}
