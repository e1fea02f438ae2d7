/**
 * What MInference's kernels execute for one block of 64 query rows of a head, in closed form
 * (src/kernel/minference.ts, src/kernel/vertical-slash-index.ts; their sizing rules in
 * minference-sizes.ts): 64-key tiles of contiguous keys and 64-column chunks of gathered columns.
 * work.ts sums these over the blocks of a row range. Pure.
 *
 * Prefill (query rows 0..n-1, causal), per query block qb (rows [64 qb, 64 qb + 64)):
 * - full: every key block 0..qb (FlashAttention).
 * - streaming (StreamingLLM, sink S + recent W): the 64-aligned key blocks covering
 *   [start - W + 1, end) and [0, S).
 * - vertical_slash (v columns, s diagonals; MInference raises them to 30 and 50): the ranges that
 *   convert_vertical_slash_indexes builds around the selected diagonals, plus the gathered
 *   columns left of them. A profile gives only the sizes; where the diagonals and columns sit
 *   depends on the input, so a block is counted in three layouts (work.ts estimates between them):
 *     low:  only the 30 forced diagonals cost anything (the others at offsets too large for the
 *           query block, as a sink head's are) and only the 30 forced columns are gathered (the
 *           others fall inside the ranges or right of them);
 *     high: the 30 forced diagonals as a band, the other s - 30 spread evenly over [30, n) (each
 *           its own 64-key range unless they are closer than 64), and all v columns at the left
 *           (sink-like), every one gathered;
 *     clustered: the s diagonals adjacent (0..s-1, one merged band: about s + 64 keys per row) and
 *           the v - 30 free columns spread evenly over [30, n) (those left of the band gathered).
 */
import type { HeadBudget } from '../profiles/head-budget.ts';
import { effectiveSizes, FORCED_COLUMNS, FORCED_DIAGONALS } from './minference-sizes.ts';

/** Query rows and keys per tile. */
export const TILE = 64;

/**
 * Per query block: tiles, gathered columns, and the keys row p attends:
 * min(p + 1, slope * p + intercept) with slope 0 or 1 (summed in closed form).
 */
interface BlockWork {
  readonly tiles: number;
  readonly columns: number;
  readonly slope: 0 | 1;
  readonly intercept: number;
}

const rowKeys = (block: BlockWork, p: number): number => Math.min(p + 1, block.slope * p + block.intercept);

/** a + (a + 1) + ... + b (0 when b < a). */
function series(a: number, b: number): number {
  return b < a ? 0 : ((a + b) * (b - a + 1)) / 2;
}

/** Sum of rowKeys over rows first..last. */
function sumRowKeys(block: BlockWork, first: number, last: number): number {
  if (block.slope === 1) return series(first, last) + (last - first + 1) * Math.min(1, block.intercept);
  // p + 1 up to p = intercept - 1, then the constant
  const split = Math.min(last, Math.max(first - 1, Math.floor(block.intercept) - 1));
  return series(first + 1, split + 1) + (last - split) * block.intercept;
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** Key blocks [first, last] of 64-aligned keys covering [lo, hi] (inclusive; empty when hi < lo). */
const alignedBlocks = (lo: number, hi: number): number =>
  hi < lo ? 0 : Math.floor(hi / TILE) - Math.floor(lo / TILE) + 1;

/**
 * The band convert_vertical_slash_indexes builds for diagonals 0..k-1 of query block [start, end):
 * its first key and tile count (vertical_slash_index.cu lines 63-93 for adjacent offsets).
 */
function band(k: number, end: number): { start: number; tiles: number } {
  const visible = Math.min(k, end);
  const a = Math.max(end - visible + 1, TILE);
  return { start: a - TILE, tiles: 1 + ceilDiv(end - a, TILE) };
}

/** Where a vertical_slash head's lines sit (module comment); other heads have one layout. */
export type Layout = 'low' | 'clustered' | 'high';

function verticalSlashBlock(v: number, s: number, n: number, start: number, end: number, layout: Layout): BlockWork {
  const forced = Math.min(FORCED_DIAGONALS, s);
  const qb = start / TILE;
  if (layout === 'clustered') {
    const b = band(s, end);
    const spread = Math.min(1, Math.max(0, (b.start - FORCED_COLUMNS) / (n - FORCED_COLUMNS)));
    const columns = Math.min(FORCED_COLUMNS, b.start) + (v - FORCED_COLUMNS) * spread;
    return { tiles: b.tiles, columns, slope: 1, intercept: 1 - b.start + columns };
  }
  const near = band(forced, end);
  if (layout === 'low') {
    const columns = Math.min(FORCED_COLUMNS, near.start);
    return { tiles: near.tiles, columns, slope: 1, intercept: 1 - near.start + columns };
  }
  let tiles = near.tiles;
  const free = s - forced;
  if (free > 0) {
    const gap = (n - forced) / free;
    const visible = Math.min(free, Math.max(0, ceilDiv(end - forced, gap)));
    if (visible > 0) {
      const farthest = forced + (visible - 1) * gap;
      tiles = gap <= TILE ? band(Math.ceil(farthest) + 1, end).tiles : near.tiles + visible;
    }
  }
  tiles = Math.min(tiles, qb + 2);
  const columns = Math.min(v, near.start);
  const far = tiles - near.tiles;
  return { tiles, columns, slope: 1, intercept: 1 - near.start + far * TILE + columns };
}

function prefillBlock(head: HeadBudget, n: number, start: number, end: number, layout: Layout): BlockWork {
  switch (head.kind) {
    case 'full':
      return { tiles: start / TILE + 1, columns: 0, slope: 1, intercept: 1 };
    case 'streaming': {
      const { sink, recent } = head;
      const lo = Math.max(0, start - recent + 1);
      const sinkEnd = Math.min(sink, lo);
      const tiles =
        alignedBlocks(lo, end - 1) +
        (sinkEnd > 0
          ? alignedBlocks(0, sinkEnd - 1) - (Math.floor((sinkEnd - 1) / TILE) === Math.floor(lo / TILE) ? 1 : 0)
          : 0);
      return { tiles, columns: 0, slope: 0, intercept: sink + recent };
    }
    case 'vertical_slash': {
      const { vertical, slash } = effectiveSizes(head, n);
      return verticalSlashBlock(vertical, slash, n, start, end, layout);
    }
  }
}

/**
 * One query block of `head` (the block starting at row blockStart of a prefill of n rows) in
 * `layout`, over its rows first..last: [tiles, gathered columns, keys summed over the rows, keys of
 * row `last`].
 */
export function blockCounts(
  head: HeadBudget,
  n: number,
  blockStart: number,
  first: number,
  last: number,
  layout: Layout,
): [number, number, number, number] {
  const block = prefillBlock(head, n, blockStart, blockStart + TILE, layout);
  return [block.tiles, block.columns, sumRowKeys(block, first, last), rowKeys(block, last)];
}
