/**
 * A port of MInference's sparse-pattern rules (microsoft/MInference, commit
 * fb56c917f618e8645f1cfc37535afd7424d78f0d), so that this project selects and executes the keys
 * MInference's kernels do. Pure: no GPU.js here. Line numbers below refer to that commit.
 *
 * - vertical_and_slash selection: `vertical_and_slash_kernel` in
 *   minference/modules/minference_forward.py (lines 381-396; the same rules at 232-247 and
 *   418-437): sizes raised to at least 30 columns and 50 diagonals (line 382), the last 64 query
 *   rows' softmax (383-386), the top `vertical_size` columns by their summed mass with columns
 *   0-29 forced (387-389), and separately the top `slash_size` diagonals by the mass summed along
 *   each diagonal (`sum_all_diagonal_matrix`, lines 110-116) with the diagonals nearest the main
 *   one forced (391-394). That function forces the 100 nearest (line 392); the pattern search
 *   (`search_pattern_v2`, line 243) and the static kernel (line 432) force 30, the default here.
 * - execution: `convert_vertical_slash_indexes` in csrc/vertical_slash_index.cu (lines 27-99)
 *   turns each diagonal into a 64-key range per 64-row query block, merges neighbouring ranges
 *   and keeps the columns left of the ranges as gathered columns; the Triton kernel
 *   (minference/ops/pit_sparse_flash_attention_v2.py, lines 97-146) then runs every 64-key block
 *   of the ranges (causally masked) and the gathered columns in chunks of 64.
 * - block_sparse: `_build_block_index` in minference/ops/block_sparse_flash_attention.py
 *   (lines 151-166): q and k mean-pooled over 64-row blocks of the zero-padded sequence, each
 *   query block keeps its top-k key blocks among those at or before it (no diagonal block forced),
 *   and the kernel (line 81) runs min(query block + 1, k) of them.
 *
 * torch.topk does not specify the order of ties; here ties go to the smaller index (the smaller
 * offset for diagonals), which makes the selection deterministic.
 */
import { HplbError } from '../errors.ts';
import type { BlockSparsePattern, VerticalSlashPattern } from './pattern.ts';
import { queryRows, rowScores, validateInput, type ScoreInput } from './reference.ts';
import { effectiveSizes, FORCED_COLUMNS, FORCED_DIAGONALS, type VerticalSlashSizes } from '../cost/minference-sizes.ts';
import { MINFERENCE_BLOCK } from './vertical-slash-index.ts';

/** Query rows whose attention estimates importance (minference_forward.py line 383). */
export const MINFERENCE_LAST_Q = 64;
export interface VerticalSlashOptions {
  /** Nearest diagonals forced into the selection. Default FORCED_DIAGONALS (30). */
  readonly forcedDiagonals?: number;
}

/** Indices of the k largest scores, ties to the smaller index; `forced` indices rank first. */
function topK(scores: Float64Array, k: number, forced: (i: number) => boolean): number[] {
  const order = Array.from(scores.keys());
  const rank = (i: number): number => (forced(i) ? Infinity : scores[i]);
  order.sort((a, b) => rank(b) - rank(a) || (rank(a) === rank(b) ? a - b : 0));
  return order.slice(0, k);
}

function checkPrefill(head: ScoreInput): void {
  validateInput(head);
  if (queryRows(head) !== head.n || !head.causal) {
    throw new HplbError('INVALID_PROBLEM', 'MInference patterns are defined for causal prefill (queries = n)', {
      pointer: '/queries',
    });
  }
}

/**
 * vertical_and_slash selection (minference_forward.py lines 381-396) of a causal prefill head:
 * `columns` ascending (the kernel sorts v_idx ascending, pit_sparse_flash_attention_v2.py line
 * 215) and `offsets` ascending (the kernel sorts s_idx descending, line 216; the pattern keeps
 * them ascending). Offset o selects key p - o for the query at position p.
 */
export function selectVerticalSlash(
  head: ScoreInput,
  sizes: VerticalSlashSizes,
  options: VerticalSlashOptions = {},
): VerticalSlashPattern {
  checkPrefill(head);
  const { n } = head;
  const { vertical, slash } = effectiveSizes(sizes, n);
  const forcedDiagonals = options.forcedDiagonals ?? FORCED_DIAGONALS;
  const lastQ = Math.min(MINFERENCE_LAST_Q, n);
  const columnMass = new Float64Array(n);
  // slash score by offset o: sum_all_diagonal_matrix(qk)[..., :-last_q + 1] at index n - 1 - o
  const diagonalMass = new Float64Array(n);
  const scores = new Float64Array(n);
  for (let r = n - lastQ; r < n; r++) {
    rowScores(head, r, scores);
    // LAST_Q_MASK (lines 41-43, 385): row r sees keys 0..r
    let max = -Infinity;
    for (let key = 0; key <= r; key++) max = Math.max(max, scores[key]);
    let total = 0;
    for (let key = 0; key <= r; key++) total += Math.exp(scores[key] - max);
    for (let key = 0; key <= r; key++) {
      const mass = Math.exp(scores[key] - max) / total;
      columnMass[key] += mass;
      diagonalMass[r - key] += mass;
    }
  }
  const columns = topK(columnMass, vertical, (c) => c < FORCED_COLUMNS).sort((a, b) => a - b);
  const offsets = topK(diagonalMass, slash, (o) => o < forcedDiagonals).sort((a, b) => a - b);
  return { kind: 'vertical_slash', columns, offsets };
}

/** Mean over `size` rows from `start` of a row-major [*, d] array; rows past `rows` count as zeros (padding). */
function pooledMean(values: Float32Array, d: number, rows: number, start: number, size: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = start; i < Math.min(rows, start + size); i++) for (let t = 0; t < d; t++) mean[t] += values[i * d + t];
  for (let t = 0; t < d; t++) mean[t] /= size;
  return mean;
}

/**
 * MInference's block picker (_build_block_index, block_sparse_flash_attention.py lines 151-166)
 * with top-k `topK` blocks: every query block keeps the k key blocks at or before it with the
 * largest pooled score (all of them when it sees fewer than k), as the kernel runs them (line 81).
 */
export function selectBlockSparse(head: ScoreInput, topK: number, blockSize = MINFERENCE_BLOCK): BlockSparsePattern {
  checkPrefill(head);
  if (!Number.isInteger(topK) || topK < 1) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `topK must be a positive integer (key blocks per query block), got ${topK}`,
      { pointer: '/topK' },
    );
  }
  const { n, d } = head;
  const count = Math.ceil(n / blockSize);
  const queryMeans = Array.from({ length: count }, (_, b) => pooledMean(head.q, d, n, b * blockSize, blockSize));
  const keyMeans = Array.from({ length: count }, (_, b) => pooledMean(head.k, d, n, b * blockSize, blockSize));
  const blocks = queryMeans.map((query, qb) => {
    const scores = new Float64Array(qb + 1);
    for (let kb = 0; kb <= qb; kb++) {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += query[t] * keyMeans[kb][t];
      scores[kb] = dot;
    }
    return topKOf(scores, topK).sort((a, b) => a - b);
  });
  return { kind: 'block_sparse', blockSize, blocks };
}

function topKOf(scores: Float64Array, k: number): number[] {
  return topK(scores, k, () => false);
}
