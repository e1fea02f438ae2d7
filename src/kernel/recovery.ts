/**
 * The paper's "attention weight recovery ratio": for a head's Q, K and a pattern, the share of the
 * full softmax probability mass that the selected positions keep, averaged over query rows; and
 * a recovery curve over budgets, each budget's pattern chosen by estimated importance
 * (selection.ts). Pure: no GPU.js here. Costs O(rows * n * d) for the full probabilities plus
 * O(selected pairs) per pattern.
 */
import { HplbError } from '../errors.ts';
import { buildRowIndex, type AttentionPattern, type RowIndex } from './pattern.ts';
import { queryRows, rowScores, validateInput, type ScoreInput } from './reference.ts';
import { MINFERENCE_BLOCK } from './vertical-slash-index.ts';
import { selectBlockSparse } from './minference.ts';
import { exactLinesPattern, rankLines, DEFAULT_LAST_QUERIES } from './selection.ts';

/** Full attention probabilities of every query row, [rows * n] (0 where the causal mask hides a key). */
export interface Probabilities {
  readonly rows: number;
  readonly n: number;
  readonly values: Float32Array;
}

/** Softmax of every query row over its visible keys (all keys, or keys <= position when causal). */
export function attentionProbabilities(head: ScoreInput): Probabilities {
  validateInput(head);
  const { n, causal } = head;
  const rows = queryRows(head);
  const first = n - rows;
  const values = new Float32Array(rows * n);
  const scores = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    rowScores(head, r, scores);
    const visible = causal ? first + r + 1 : n;
    let max = -Infinity;
    for (let key = 0; key < visible; key++) max = Math.max(max, scores[key]);
    let total = 0;
    for (let key = 0; key < visible; key++) {
      scores[key] = Math.exp(scores[key] - max);
      total += scores[key];
    }
    for (let key = 0; key < visible; key++) values[r * n + key] = scores[key] / total;
  }
  return { rows, n, values };
}

/** Mean over rows of the probability mass the index keeps, in [0, 1]. */
export function recoveryOfIndex(probabilities: Probabilities, index: RowIndex): number {
  const { rows, n, values } = probabilities;
  if (index.rows !== rows || index.n !== n) {
    throw new HplbError('INVALID_PROBLEM', `index is ${index.rows} x ${index.n}, probabilities are ${rows} x ${n}`);
  }
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    let kept = 0;
    for (let j = 0; j < index.rowLength[r]; j++) kept += values[r * n + index.keys[r * index.width + j]];
    sum += kept;
  }
  return Math.min(1, sum / rows);
}

/** Recovery ratio of one pattern on a head: mean over query rows of the full-softmax mass kept. */
export function recoveryRatio(head: ScoreInput, pattern: AttentionPattern): number {
  return recoveryOfIndex(attentionProbabilities(head), buildRowIndex(pattern, head));
}

/**
 * How a budget's pattern is chosen, and the unit its budgets count:
 * - 'exact_lines' (selection.ts), budgets in lines: column and diagonal lines scored by the
 *   attention mass the last `lastQueries` query rows give them; a budget of b keeps the b best
 *   lines (the diagonal always first), executed exactly (one key per row per line).
 * - 'block_topk' (minference.ts, MInference's block picker), budgets in blocks: each query block
 *   keeps its b best key blocks by pooled score.
 */
export type Selector = 'exact_lines' | 'block_topk';

/** The budget unit of each selector's curve (src/budgets/units.ts converts between units). */
export const SELECTOR_UNIT = { exact_lines: 'lines', block_topk: 'blocks' } as const;

export interface RecoveryCurveOptions {
  /** Default 'exact_lines'. */
  readonly selector?: Selector;
  /** exact_lines: query rows used to estimate importance. Default 64. */
  readonly lastQueries?: number;
  /** block_topk: block size in tokens. Default 64 (MInference's). */
  readonly blockSize?: number;
}

export interface RecoveryPoint {
  /** Budget in the curve's unit (lines or blocks). */
  readonly budget: number;
  /** Recovery ratio of the pattern chosen for this budget. */
  readonly recovery: number;
  /** Selected (query, key) pairs of that pattern. */
  readonly pairs: number;
}

export interface RecoveryCurve {
  readonly selector: Selector;
  readonly unit: (typeof SELECTOR_UNIT)[Selector];
  /** Sequence length the curve was measured at. */
  readonly seqLen: number;
  readonly points: readonly RecoveryPoint[];
}

/**
 * Recovery ratio at each budget (in the selector's unit, positive integers, ascending), the pattern
 * for a budget chosen by estimated importance. The patterns of a curve are nested (a larger budget
 * keeps everything a smaller one keeps), so the curve is non-decreasing.
 */
export function recoveryCurve(
  head: ScoreInput,
  budgets: readonly number[],
  options: RecoveryCurveOptions = {},
): RecoveryCurve {
  const selector = options.selector ?? 'exact_lines';
  budgets.forEach((budget, i) => {
    if (!Number.isInteger(budget) || budget < 1 || (i > 0 && budget <= budgets[i - 1])) {
      throw new HplbError(
        'INVALID_PROBLEM',
        `budgets must be strictly ascending positive integers (index ${i}: ${budget})`,
        { pointer: `/budgets/${i}` },
      );
    }
  });
  const probabilities = attentionProbabilities(head);
  let choose: (budget: number) => AttentionPattern;
  if (selector === 'exact_lines') {
    const ranking = rankLines(head, options.lastQueries ?? DEFAULT_LAST_QUERIES);
    choose = (budget) => exactLinesPattern(ranking, budget);
  } else if (selector === 'block_topk') {
    choose = (budget) => selectBlockSparse(head, budget, options.blockSize ?? MINFERENCE_BLOCK);
  } else {
    throw new HplbError('INVALID_PROBLEM', `unknown selector ${selector as string}`, { pointer: '/selector' });
  }
  const points = budgets.map((budget) => {
    const index = buildRowIndex(choose(budget), head);
    return { budget, recovery: recoveryOfIndex(probabilities, index), pairs: index.pairs };
  });
  return { selector, unit: SELECTOR_UNIT[selector], seqLen: head.n, points };
}
