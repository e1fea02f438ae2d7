/**
 * Sparse-attention patterns of one head and the per-query-row index of selected key positions
 * that the kernels consume. Pure: no GPU.js here.
 *
 * Positions are absolute: with `queries = m` the query rows are the last m positions of a
 * sequence of n tokens (query row r sits at position n - m + r; m = n for prefill, m = 1 for a
 * decode step). The diagonal (key position = query position) is always selected, so no row is
 * empty whatever the pattern.
 */
import { HplbError } from '../errors.ts';
import { convertVerticalSlashIndexes, MINFERENCE_BLOCK, type QueryBlockIndex } from './vertical-slash-index.ts';

/** Every causal key (or every key when not causal). */
export interface FullPattern {
  readonly kind: 'full';
}

/**
 * MInference's vertical_slash, executed as its kernel does (vertical-slash-index.ts): selected key columns
 * and diagonal offsets (offset o is key p - o for the query at position p), turned per block of
 * `blockSize` query rows into `blockSize`-key ranges around the diagonals, merged with their
 * neighbours, plus the selected columns left of those ranges (convertVerticalSlashIndexes). A
 * row attends every causal key of its block's ranges and its block's gathered columns: a
 * superset of the exact lines. Both lists strictly ascending, values in [0, n); offsets must hold
 * 0. blockSize defaults to 64, MInference's; smaller values serve small tests.
 */
export interface VerticalSlashPattern {
  readonly kind: 'vertical_slash';
  readonly columns: readonly number[];
  readonly offsets: readonly number[];
  readonly blockSize?: number;
}

/**
 * The exact-line form: every row attends exactly the selected columns and one key per selected
 * diagonal (p - o), nothing more. Not what MInference's kernel runs; kept for recovery studies.
 */
export interface ExactVerticalSlashPattern {
  readonly kind: 'exact_vertical_slash';
  readonly columns: readonly number[];
  readonly offsets: readonly number[];
}

/**
 * Block-sparse: `blocks[qb]` lists, strictly ascending, the key blocks that query block qb attends
 * (block b covers positions [b * blockSize, (b + 1) * blockSize) clipped to n). One list per
 * block of the sequence: ceil(n / blockSize) lists, values in [0, ceil(n / blockSize)).
 */
export interface BlockSparsePattern {
  readonly kind: 'block_sparse';
  readonly blockSize: number;
  readonly blocks: readonly (readonly number[])[];
}

/** StreamingLLM: the first `sink` positions plus the `recent` positions ending at the query. */
export interface StreamingPattern {
  readonly kind: 'streaming';
  readonly sink: number;
  readonly recent: number;
}

export type AttentionPattern =
  | FullPattern
  | VerticalSlashPattern
  | ExactVerticalSlashPattern
  | BlockSparsePattern
  | StreamingPattern;

/** Sequence geometry a pattern is applied to. */
export interface AttentionShape {
  /** Key/value rows: the sequence length. */
  readonly n: number;
  /** Query rows, the last `queries` positions (default n). */
  readonly queries?: number;
  /** Whether a query may attend only to keys at or before its own position. */
  readonly causal: boolean;
}

/**
 * CSR-like index padded to a fixed width: row r lists its selected key positions ascending in
 * `keys[r * width .. r * width + rowLength[r])`, the rest of the row holds the sentinel -1.
 * Float32Array because GPU.js kernels take float arrays (positions stay exact below 2^24).
 */
export interface RowIndex {
  /** Query rows (m). */
  readonly rows: number;
  /** Key rows (n). */
  readonly n: number;
  /** Longest row, >= 1: the padded row width. */
  readonly width: number;
  /** [rows] selected keys per row. */
  readonly rowLength: Float32Array;
  /** [rows * width] ascending key positions, padded with -1. */
  readonly keys: Float32Array;
  /** Selected (query, key) pairs in all: the sum of rowLength. */
  readonly pairs: number;
}

export const INDEX_SENTINEL = -1;

function invalid(message: string, pointer: string): never {
  throw new HplbError('INVALID_PROBLEM', message, { pointer });
}

function checkCount(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0)
    invalid(`${name} must be a non-negative integer, got ${value}`, `/${name}`);
}

function checkAscending(values: readonly number[], limit: number, pointer: string, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Number.isInteger(value) || value < 0 || value >= limit) {
      invalid(`${what} ${value} at index ${i} is out of range [0, ${limit})`, `${pointer}/${i}`);
    }
    if (i > 0 && value <= values[i - 1]) {
      const why = value === values[i - 1] ? 'duplicate' : 'unsorted';
      invalid(`${what} must be strictly ascending: ${why} value ${value} at index ${i}`, `${pointer}/${i}`);
    }
  }
}

/** Number of blocks of size `blockSize` covering n positions. */
export function blockCount(n: number, blockSize: number): number {
  return Math.ceil(n / blockSize);
}

/** Checks a shape: n >= 1, 1 <= queries <= n. Throws INVALID_PROBLEM. */
export function validateShape(shape: AttentionShape): void {
  if (!Number.isInteger(shape.n) || shape.n < 1) invalid(`n must be a positive integer, got ${shape.n}`, '/n');
  const m = shape.queries ?? shape.n;
  if (!Number.isInteger(m) || m < 1 || m > shape.n)
    invalid(`queries must be an integer in [1, n=${shape.n}], got ${m}`, '/queries');
}

/** Checks a pattern against sequence length n. Throws HplbError INVALID_PROBLEM naming the field. */
export function validatePattern(pattern: AttentionPattern, n: number): void {
  switch (pattern.kind) {
    case 'full':
      return;
    case 'streaming':
      checkCount(pattern.sink, 'sink');
      checkCount(pattern.recent, 'recent');
      return;
    case 'exact_vertical_slash':
      checkAscending(pattern.columns, n, '/columns', 'column');
      checkAscending(pattern.offsets, n, '/offsets', 'offset');
      return;
    case 'vertical_slash': {
      checkAscending(pattern.columns, n, '/columns', 'column');
      checkAscending(pattern.offsets, n, '/offsets', 'offset');
      if (pattern.offsets[0] !== 0)
        invalid('vertical_slash offsets must hold 0: MInference always keeps the main diagonal', '/offsets');
      const size = pattern.blockSize ?? MINFERENCE_BLOCK;
      if (!Number.isInteger(size) || size < 1)
        invalid(`blockSize must be a positive integer, got ${size}`, '/blockSize');
      return;
    }
    case 'block_sparse': {
      const size = pattern.blockSize;
      if (!Number.isInteger(size) || size < 1)
        invalid(`blockSize must be a positive integer, got ${size}`, '/blockSize');
      const count = blockCount(n, size);
      if (pattern.blocks.length !== count) {
        invalid(
          `blocks must hold one list per query block: ${count} for n=${n}, blockSize=${size}; got ${pattern.blocks.length}`,
          '/blocks',
        );
      }
      pattern.blocks.forEach((list, qb) => checkAscending(list, count, `/blocks/${qb}`, 'key block'));
      return;
    }
    default:
      invalid(`unknown pattern kind ${(pattern as { kind: unknown }).kind}`, '/kind');
  }
}

/** Inserts `key` into the ascending, duplicate-free `row[0..length)`; returns the new length. */
function insertSorted(row: Int32Array, length: number, key: number): number {
  let at = length;
  while (at > 0 && row[at - 1] > key) at--;
  if (at > 0 && row[at - 1] === key) return length;
  row.copyWithin(at + 1, at, length);
  row[at] = key;
  return length + 1;
}

/**
 * Writes the selected keys of the query at position p into `row` (ascending, unique) and returns
 * how many. `last` is the last key the query may see (p when causal, n - 1 otherwise).
 */
function fillRow(
  pattern: AttentionPattern,
  n: number,
  p: number,
  last: number,
  row: Int32Array,
  converted: readonly QueryBlockIndex[],
): number {
  let length = 0;
  switch (pattern.kind) {
    case 'full':
      for (let key = 0; key <= last; key++) row[length++] = key;
      break;
    case 'streaming': {
      const sinkEnd = Math.min(pattern.sink, last + 1);
      for (let key = 0; key < sinkEnd; key++) row[length++] = key;
      for (let key = Math.max(sinkEnd, p - pattern.recent + 1); key <= p; key++) row[length++] = key;
      break;
    }
    case 'vertical_slash': {
      const { blockOffsets, columns } = converted[Math.floor(p / (pattern.blockSize ?? MINFERENCE_BLOCK))];
      const size = pattern.blockSize ?? MINFERENCE_BLOCK;
      for (const column of columns) if (column <= last) row[length++] = column;
      for (const start of blockOffsets)
        for (let key = start; key < start + size && key <= last; key++) row[length++] = key;
      row.subarray(0, length).sort();
      break;
    }
    case 'exact_vertical_slash': {
      const { columns, offsets } = pattern;
      let c = 0;
      let o = offsets.length - 1;
      while (o >= 0 && p - offsets[o] < 0) o--;
      // merge columns (ascending) with slash keys p - offsets[o] (ascending as o falls)
      while ((c < columns.length && columns[c] <= last) || o >= 0) {
        const column = c < columns.length && columns[c] <= last ? columns[c] : Infinity;
        const slash = o >= 0 ? p - offsets[o] : Infinity;
        const key = Math.min(column, slash);
        if (column === key) c++;
        if (slash === key) o--;
        row[length++] = key;
      }
      break;
    }
    case 'block_sparse': {
      const size = pattern.blockSize;
      for (const kb of pattern.blocks[Math.floor(p / size)]) {
        const end = Math.min((kb + 1) * size - 1, last, n - 1);
        for (let key = kb * size; key <= end; key++) row[length++] = key;
      }
      break;
    }
  }
  return insertSorted(row, length, p);
}

/**
 * Builds the padded per-row index of a validated pattern: rows = shape.queries ?? n.
 * Throws INVALID_PROBLEM for a bad shape or pattern.
 */
export function buildRowIndex(pattern: AttentionPattern, shape: AttentionShape): RowIndex {
  validateShape(shape);
  validatePattern(pattern, shape.n);
  const { n, causal } = shape;
  const rows = shape.queries ?? n;
  const first = n - rows;
  const converted =
    pattern.kind === 'vertical_slash'
      ? convertVerticalSlashIndexes(n, pattern.columns, pattern.offsets, pattern.blockSize, pattern.blockSize)
      : [];
  const scratch = new Int32Array(n + 1);
  const rowLength = new Float32Array(rows);
  const lists: Int32Array[] = new Array(rows);
  let width = 1;
  let pairs = 0;
  for (let r = 0; r < rows; r++) {
    const p = first + r;
    const length = fillRow(pattern, n, p, causal ? p : n - 1, scratch, converted);
    lists[r] = scratch.slice(0, length);
    rowLength[r] = length;
    width = Math.max(width, length);
    pairs += length;
  }
  const keys = new Float32Array(rows * width).fill(INDEX_SENTINEL);
  for (let r = 0; r < rows; r++) keys.set(lists[r], r * width);
  return { rows, n, width, rowLength, keys, pairs };
}

/** [rows * n] 0/1 mask of the index: mask[r * n + key] = 1 when row r selects key. */
export function indexMask(index: RowIndex): Uint8Array {
  const mask = new Uint8Array(index.rows * index.n);
  for (let r = 0; r < index.rows; r++) {
    const start = r * index.width;
    for (let j = 0; j < index.rowLength[r]; j++) mask[r * index.n + index.keys[start + j]] = 1;
  }
  return mask;
}

/** The causal (or all-ones) mask of dense attention, [rows * n]. */
export function denseMask(shape: AttentionShape): Uint8Array {
  return indexMask(buildRowIndex({ kind: 'full' }, shape));
}
