/**
 * Executed work: what a head's kernel computes at a workload, counted the way MInference's kernels
 * run (src/kernel/minference.ts, src/kernel/vertical-slash-index.ts; their sizing rules in
 * minference-sizes.ts): per block of 64 query rows, 64-key tiles of contiguous keys and 64-column
 * chunks of gathered columns. Pure.
 *
 * Prefill (query rows 0..n-1, causal), per query block qb (rows [64 qb, 64 qb + 64)):
 * - full: every key block 0..qb (FlashAttention).
 * - streaming (StreamingLLM, sink S + recent W): the 64-aligned key blocks covering
 *   [start - W + 1, end) and [0, S).
 * - vertical_slash (v columns, s diagonals; MInference raises them to 30 and 50): the ranges that
 *   convert_vertical_slash_indexes builds around the selected diagonals, plus the gathered
 *   columns left of them. A profile gives only the sizes; where the diagonals and columns sit
 *   depends on the input, so the work is ESTIMATED between two layouts:
 *     low:  only the 30 forced diagonals cost anything (the others at offsets too large for the
 *           query block, as a sink head's are) and only the 30 forced columns are gathered (the
 *           others fall inside the ranges or right of them);
 *     high: the 30 forced diagonals as a band, the other s - 30 spread evenly over [30, n) (each
 *           its own 64-key range unless they are closer than 64), and all v columns at the left
 *           (sink-like), every one gathered;
 *     clustered: the s diagonals adjacent (0..s-1, one merged band: about s + 64 keys per row) and
 *           the v - 30 free columns spread evenly over [30, n) (those left of the band gathered);
 *     estimate: VERTICAL_SLASH_FACTOR x clustered, per count, kept inside [low, high]. The factor
 *   is measured on synthetic heads (bench/work-model.ts): the median ratio of what MInference's own
 *   selection executes on them to the clustered layout. The range is reported with the estimate
 *   (HeadWork.low, HeadWork.high).
 * Decode (one query row at position n - 1): MInference runs dense attention for one query row
 * (minference_forward.py, `if q_len == 1: return dense(q, k, v)`), so vertical_slash and full
 * heads read all n keys; streaming heads read min(n, S + W).
 *
 * Units: tiles and chunks are counts; pairs are (query row, key) pairs; the cost unit of the default
 * model is MAC (multiply-accumulates of QK^T and PV: 2 d per executed pair).
 */
import { HplbError } from '../errors.ts';
import type { HeadBudget } from '../profiles/head-budget.ts';
import { effectiveSizes, FORCED_COLUMNS, FORCED_DIAGONALS } from './minference-sizes.ts';
import type { HeadShape } from './head-shape.ts';
import type { Workload } from './workload.ts';

/** Query rows and keys per tile. */
export const TILE = 64;

/**
 * The estimate of a vertical_slash head is this factor times its clustered layout, kept inside
 * [low, high]. Measured by bench/work-model.ts on synthetic heads (sink, local, vertical, diffuse;
 * n = 2048 and 4096; sizes 30..1000, slash / n <= 0.1) as the median of exact / clustered executed
 * pairs; single heads vary around it (see that bench), so the range is reported too.
 */
export const VERTICAL_SLASH_FACTOR = 1.47;

/** What a kernel executes for some query rows of one head (counts; see the module comment). */
export interface ExecutedWork {
  /** Query rows covered. */
  readonly rows: number;
  /** 64 x 64 tiles of contiguous keys, summed over query blocks. */
  readonly tiles: number;
  /** Gathered columns, summed over query blocks. */
  readonly gatheredColumns: number;
  /** 64-column chunks the kernel runs for the gathered columns, summed over query blocks. */
  readonly columnChunks: number;
  /** (row, key) pairs the kernel computes: 64 per row per tile and chunk, masked ones included (decode: keysRead). */
  readonly executedPairs: number;
  /** (row, key) pairs left after the causal mask: what a per-row kernel computes. */
  readonly pairs: number;
  /** The longest row, in keys. */
  readonly maxRowKeys: number;
  /** Distinct keys read from the KV cache by the last row (decode's traffic). */
  readonly keysRead: number;
}

/** A head's executed work: the estimate, and the range it may take (equal to it when exact). */
export interface HeadWork {
  readonly estimate: ExecutedWork;
  readonly low: ExecutedWork;
  readonly high: ExecutedWork;
  /** The clustered layout the estimate scales (module comment; equal to the estimate when exact). */
  readonly clustered: ExecutedWork;
  /** False when the positions depend on the input (vertical_slash from sizes). */
  readonly exact: boolean;
}

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

type Layout = 'low' | 'clustered' | 'high';

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

/** Running sums of one layout's work over query blocks. */
class WorkSum {
  tiles = 0;
  gatheredColumns = 0;
  columnChunks = 0;
  executedPairs = 0;
  pairs = 0;
  maxRowKeys = 0;

  /** Adds one block's counts for `rows` of its rows. */
  add(tiles: number, columns: number, rows: number, pairs: number, lastRowKeys: number): void {
    const chunks = ceilDiv(columns, TILE);
    this.tiles += tiles;
    this.gatheredColumns += columns;
    this.columnChunks += chunks;
    this.executedPairs += rows * TILE * (tiles + chunks);
    this.pairs += pairs;
    this.maxRowKeys = Math.max(this.maxRowKeys, lastRowKeys);
  }

  work(rows: number, n: number): ExecutedWork {
    const { tiles, gatheredColumns, columnChunks, executedPairs, pairs, maxRowKeys } = this;
    return {
      rows,
      tiles,
      gatheredColumns,
      columnChunks,
      executedPairs,
      pairs,
      maxRowKeys,
      keysRead: Math.min(n, maxRowKeys),
    };
  }
}

/** A block's tiles, columns, keys summed over rows first..last and keys of row `last`. */
function blockCounts(block: BlockWork, first: number, last: number): [number, number, number, number] {
  return [block.tiles, block.columns, sumRowKeys(block, first, last), rowKeys(block, last)];
}

/** The estimate of each count: VERTICAL_SLASH_FACTOR x clustered, inside [low, high]. */
function estimateCounts(low: readonly number[], high: readonly number[], clustered: readonly number[]): number[] {
  const estimate: number[] = [];
  for (let i = 0; i < clustered.length; i++) {
    estimate.push(Math.min(high[i], Math.max(low[i], VERTICAL_SLASH_FACTOR * clustered[i])));
  }
  return estimate;
}

/**
 * Prefill work of rows [start, end) in the low, estimated and high layouts (equal unless the head
 * is vertical_slash). The estimate is taken per query block (VERTICAL_SLASH_FACTOR x clustered,
 * inside that block's [low, high]), so parts of a head add up to the whole.
 */
function prefillWork(
  head: HeadBudget,
  n: number,
  start: number,
  end: number,
  blockPairs?: number[],
): Omit<HeadWork, 'exact'> {
  const sums = { low: new WorkSum(), estimate: new WorkSum(), high: new WorkSum(), clustered: new WorkSum() };
  for (let blockStart = Math.floor(start / TILE) * TILE; blockStart < end; blockStart += TILE) {
    const before = sums.estimate.executedPairs;
    const first = Math.max(start, blockStart);
    const last = Math.min(end, blockStart + TILE, n) - 1;
    const rows = last - first + 1;
    const low = blockCounts(prefillBlock(head, n, blockStart, blockStart + TILE, 'low'), first, last);
    if (head.kind !== 'vertical_slash') {
      for (const sum of Object.values(sums)) sum.add(low[0], low[1], rows, low[2], low[3]);
      blockPairs?.push(sums.estimate.executedPairs - before);
      continue;
    }
    const high = blockCounts(prefillBlock(head, n, blockStart, blockStart + TILE, 'high'), first, last);
    const clustered = blockCounts(prefillBlock(head, n, blockStart, blockStart + TILE, 'clustered'), first, last);
    const estimate = estimateCounts(low, high, clustered);
    sums.low.add(low[0], low[1], rows, low[2], low[3]);
    sums.high.add(high[0], high[1], rows, high[2], high[3]);
    sums.estimate.add(estimate[0], estimate[1], rows, estimate[2], estimate[3]);
    sums.clustered.add(clustered[0], clustered[1], rows, clustered[2], clustered[3]);
    blockPairs?.push(sums.estimate.executedPairs - before);
  }
  const [low, estimate, high, clustered] = [sums.low, sums.estimate, sums.high, sums.clustered].map((sum) =>
    sum.work(end - start, n),
  );
  return { low, estimate, high, clustered };
}

function decodeWork(head: HeadBudget, n: number): ExecutedWork {
  const keys = head.kind === 'streaming' ? Math.min(n, head.sink + head.recent) : n;
  return {
    rows: 1,
    tiles: 0,
    gatheredColumns: 0,
    columnChunks: 0,
    executedPairs: keys,
    pairs: keys,
    maxRowKeys: keys,
    keysRead: keys,
  };
}

function checkRange(workload: Workload, start: number, end: number): number {
  const rows = workload.phase === 'prefill' ? workload.seqLen : 1;
  if (!Number.isInteger(workload.seqLen) || workload.seqLen < 1) {
    throw new HplbError('INVALID_PROBLEM', `seqLen must be a positive integer, got ${workload.seqLen}`, {
      pointer: '/workload/seqLen',
    });
  }
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start >= end) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `query rows [${start}, ${end}) must be a non-empty integer range inside [0, ${rows})`,
      { pointer: '/rows' },
    );
  }
  return rows;
}

/**
 * Executed work of query rows [start, end) of one head under its pattern (causal; rows are
 * positions 0..n-1 in prefill, the single row 0 in decode). A range that cuts a query block runs
 * all of that block's tiles for its own rows: executedPairs counts its rows only, tiles count the
 * block's tiles once per part. Parts of a head on different GPUs add up to the whole head's
 * executedPairs and pairs. For vertical_slash heads the work is the documented estimate with its
 * range (module comment). Throws INVALID_PROBLEM for an empty or out-of-range row range.
 */
export function rowRangeWork(head: HeadBudget, workload: Workload, start: number, end: number): HeadWork {
  checkRange(workload, start, end);
  if (workload.phase === 'decode') {
    const work = decodeWork(head, workload.seqLen);
    return { estimate: work, low: work, high: work, clustered: work, exact: true };
  }
  return { ...prefillWork(head, workload.seqLen, start, end), exact: head.kind !== 'vertical_slash' };
}

/**
 * Executed pairs (the estimate) of each query block of a causal prefill of `seqLen` rows, in one
 * pass: [ceil(seqLen / TILE)]. Within a block they grow linearly with its rows (every row of a
 * block runs the block's tiles), so these give the work of any row range.
 */
export function prefillBlockPairs(head: HeadBudget, seqLen: number): number[] {
  checkRange({ seqLen, phase: 'prefill' }, 0, seqLen);
  const blockPairs: number[] = [];
  prefillWork(head, seqLen, 0, seqLen, blockPairs);
  return blockPairs;
}

/** The whole head's executed work: rowRangeWork over every query row. */
export function headWork(head: HeadBudget, workload: Workload): HeadWork {
  return rowRangeWork(head, workload, 0, workload.phase === 'prefill' ? workload.seqLen : 1);
}

/** Multiply-accumulates of QK^T and PV over the executed pairs: 2 d per pair. */
export function executedMacs(work: ExecutedWork, shape: HeadShape): number {
  return 2 * shape.headDim * work.executedPairs;
}
