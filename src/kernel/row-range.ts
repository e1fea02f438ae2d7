/**
 * A range of a head's query rows as an attention problem of its own: the part of a split head one
 * GPU runs. Query rows are independent (each row's softmax is over its own keys), so the parts'
 * outputs, concatenated in row order, are the whole head's output; every part needs all of K and V
 * its rows attend to (here: the whole K and V).
 */
import { HplbError } from '../errors.ts';
import { INDEX_SENTINEL, type RowIndex } from './pattern.ts';
import { queryRows, type AttentionInput } from './reference.ts';

/**
 * Rows [start, end) of an input's query rows (0 <= start < end <= rows) with their part of a row
 * index built for the whole input: q and the index keep only those rows (the index narrowed to
 * the part's longest row); k and v are shared, not copied.
 */
export function sliceRows(
  input: AttentionInput,
  index: RowIndex,
  start: number,
  end: number,
): { input: AttentionInput; index: RowIndex } {
  const rows = queryRows(input);
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= rows)) {
    const why = `rows [${start}, ${end}) are not a non-empty range of the ${rows} query rows`;
    throw new HplbError('INVALID_PROBLEM', why, { pointer: '/rows' });
  }
  if (index.rows !== rows || index.n !== input.n) {
    const why = `index is for ${index.rows} x ${index.n} (rows x keys), input is ${rows} x ${input.n}`;
    throw new HplbError('INVALID_PROBLEM', why, { pointer: '/index' });
  }
  const count = end - start;
  const rowLength = index.rowLength.slice(start, end);
  const width = Math.max(1, ...rowLength);
  const keys = new Float32Array(count * width).fill(INDEX_SENTINEL);
  let pairs = 0;
  for (let r = 0; r < count; r++) {
    const from = (start + r) * index.width;
    keys.set(index.keys.subarray(from, from + rowLength[r]), r * width);
    pairs += rowLength[r];
  }
  return {
    input: { ...input, queries: count, q: input.q.slice(start * input.d, end * input.d) },
    index: { rows: count, n: index.n, width, rowLength, keys, pairs },
  };
}
