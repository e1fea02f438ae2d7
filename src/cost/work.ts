/**
 * Executed work: what a head's kernel computes at a workload, counted the way MInference's kernels
 * run: per block of 64 query rows, 64-key tiles of contiguous keys and 64-column chunks of
 * gathered columns (block-work.ts counts one block of each pattern). Pure.
 *
 * Prefill sums the query blocks of a row range. A vertical_slash head's positions depend on the
 * input, so its work is ESTIMATED between the low and high layouts of block-work.ts: the estimate
 * is VERTICAL_SLASH_FACTOR x the clustered layout, per count, kept inside [low, high]. The factor
 * is measured on synthetic heads (bench/work-model.ts): the median ratio of what MInference's own
 * selection executes on them to the clustered layout. The range is reported with the estimate
 * (HeadWork.low, HeadWork.high).
 * Decode (one query row at position n - 1): MInference runs dense attention for one query row
 * (minference_forward.py, `if q_len == 1: return dense(q, k, v)`), so vertical_slash and full
 * heads read all n keys; streaming heads read min(n, S + W).
 *
 * Units: tiles and chunks are counts; pairs are (query row, key) pairs; the cost unit of the default
 * model is MAC (multiply-accumulates of QK^T and PV: 2 d per executed pair).
 */
import { HplbError } from '../errors.ts';
import type { HeadBudget } from '../profiles/head-budget.ts';
import { blockCounts, TILE } from './block-work.ts';
import type { HeadShape } from './head-shape.ts';
import type { Workload } from './workload.ts';

export { TILE } from './block-work.ts';

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
  /** The clustered layout the estimate scales (block-work.ts; equal to the estimate when exact). */
  readonly clustered: ExecutedWork;
  /** False when the positions depend on the input (vertical_slash from sizes). */
  readonly exact: boolean;
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
    const chunks = Math.ceil(columns / TILE);
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
    const low = blockCounts(head, n, blockStart, first, last, 'low');
    if (head.kind !== 'vertical_slash') {
      for (const sum of Object.values(sums)) sum.add(low[0], low[1], rows, low[2], low[3]);
      blockPairs?.push(sums.estimate.executedPairs - before);
      continue;
    }
    const high = blockCounts(head, n, blockStart, first, last, 'high');
    const clustered = blockCounts(head, n, blockStart, first, last, 'clustered');
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

/** Keys the one decode row (position n - 1) reads: all n, a streaming head's min(n, S + W) (module comment). */
export function decodeKeys(head: HeadBudget, n: number): number {
  return head.kind === 'streaming' ? Math.min(n, head.sink + head.recent) : n;
}

function decodeWork(head: HeadBudget, n: number): ExecutedWork {
  const keys = decodeKeys(head, n);
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
