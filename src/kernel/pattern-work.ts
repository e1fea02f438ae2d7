/**
 * The executed work of a concrete pattern (positions known), counted as src/cost/work.ts counts a
 * profile head's: 64 x 64 tiles, gathered columns in 64-column chunks, pairs after the causal
 * mask (from the row index, what the GPU.js kernel computes) and the longest row. Pure.
 *
 * - vertical_slash: the converted index (vertical-slash-index.ts): per query block its key blocks
 *   and gathered columns.
 * - exact_vertical_slash: no tiles: every pair is gathered on its own (executedPairs = pairs).
 * - block_sparse: per query block its listed key blocks.
 * - streaming, full: the 64-aligned key blocks holding the row's keys.
 */
import { TILE, type ExecutedWork } from '../cost/work.ts';
import { buildRowIndex, type AttentionPattern, type AttentionShape, type RowIndex } from './pattern.ts';
import { convertVerticalSlashIndexes } from './vertical-slash-index.ts';

/** Distinct 64-aligned key blocks holding the keys of rows [start, end) of an index. */
function alignedBlocksOf(index: RowIndex, first: number, start: number, end: number): number {
  const blocks = new Set<number>();
  for (let p = start; p < end; p++) {
    const r = p - first;
    for (let j = 0; j < index.rowLength[r]; j++) blocks.add(Math.floor(index.keys[r * index.width + j] / TILE));
  }
  return blocks.size;
}

/** Executed work of a pattern on a shape (prefill or the last rows); throws INVALID_PROBLEM like buildRowIndex. */
export function patternWork(pattern: AttentionPattern, shape: AttentionShape): ExecutedWork {
  const index = buildRowIndex(pattern, shape);
  const { n } = shape;
  const first = n - index.rows;
  let maxRowKeys = 0;
  for (let r = 0; r < index.rows; r++) maxRowKeys = Math.max(maxRowKeys, index.rowLength[r]);
  const base = { rows: index.rows, pairs: index.pairs, maxRowKeys, keysRead: index.rowLength[index.rows - 1] };
  if (pattern.kind === 'exact_vertical_slash') {
    return { ...base, tiles: 0, gatheredColumns: 0, columnChunks: 0, executedPairs: index.pairs };
  }
  const size =
    pattern.kind === 'vertical_slash' || pattern.kind === 'block_sparse' ? (pattern.blockSize ?? TILE) : TILE;
  const converted =
    pattern.kind === 'vertical_slash'
      ? convertVerticalSlashIndexes(n, pattern.columns, pattern.offsets, size, size)
      : [];
  let tiles = 0;
  let gatheredColumns = 0;
  let columnChunks = 0;
  let executedPairs = 0;
  for (let start = Math.floor(first / size) * size; start < n; start += size) {
    const qb = start / size;
    const rows = Math.min(n, start + size) - Math.max(first, start);
    let blockTiles: number;
    let columns = 0;
    if (pattern.kind === 'vertical_slash') {
      blockTiles = converted[qb].blockOffsets.length;
      columns = converted[qb].columns.length;
    } else if (pattern.kind === 'block_sparse') {
      blockTiles = pattern.blocks[qb].length;
    } else {
      blockTiles = alignedBlocksOf(index, first, Math.max(first, start), Math.min(n, start + size));
    }
    const chunks = Math.ceil(columns / size);
    tiles += blockTiles;
    gatheredColumns += columns;
    columnChunks += chunks;
    executedPairs += rows * size * (blockTiles + chunks);
  }
  return { ...base, tiles, gatheredColumns, columnChunks, executedPairs };
}
