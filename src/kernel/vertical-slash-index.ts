/**
 * MInference's vertical_slash rules that need no attention scores (microsoft/MInference commit
 * fb56c917f618e8645f1cfc37535afd7424d78f0d): the forced lines and minimum sizes
 * (minference/modules/minference_forward.py) and a port of convert_vertical_slash_indexes
 * (csrc/vertical_slash_index.cu), how its kernel turns selected columns and diagonals into the key
 * blocks and gathered columns it runs per block of query rows. Pure and free of the other kernel
 * modules, so that the pattern index (pattern.ts) and the cost model (src/cost/work.ts) share it.
 */
import { HplbError } from '../errors.ts';

/** Columns 0..29 are always kept (minference_forward.py line 388). */
export const FORCED_COLUMNS = 30;
/** Diagonals nearest the main one that are always kept (lines 243 and 432; 100 at minference_forward.py line 392). */
export const FORCED_DIAGONALS = 30;
/** Minimum sizes (minference_forward.py line 382). */
export const MIN_VERTICAL = 30;
export const MIN_SLASH = 50;

export interface VerticalSlashSizes {
  /** vertical_size of a profile: key columns. */
  readonly vertical: number;
  /** slash_size of a profile: diagonals. */
  readonly slash: number;
}

/**
 * The sizes MInference uses at q_len = n (minference_forward.py line 382):
 * min(n, max(vertical, 30)) and min(n, max(slash, 50)).
 */
export function effectiveSizes(sizes: VerticalSlashSizes, n: number): VerticalSlashSizes {
  return {
    vertical: Math.min(n, Math.max(sizes.vertical, MIN_VERTICAL)),
    slash: Math.min(n, Math.max(sizes.slash, MIN_SLASH)),
  };
}

/** Query rows and keys per block of the index conversion and the kernels (vertical_slash_index.cu lines 115-116). */
export const MINFERENCE_BLOCK = 64;

/** One query block's share of a converted vertical_slash index. */
export interface QueryBlockIndex {
  /** Starts of the 64-key blocks the kernel runs for this query block (ascending). */
  readonly blockOffsets: readonly number[];
  /** Columns gathered for this query block (ascending): selected columns left of every range. */
  readonly columns: readonly number[];
}

/**
 * Port of convert_vertical_slash_indexes_kernel (csrc/vertical_slash_index.cu lines 27-99) for
 * one head: `columns` ascending, `offsets` ascending (walked here from the largest, as the
 * kernel's descending s_idx). Returns one entry per query block of `blockM` rows,
 * ceil(n / blockM) in all. The kernel's sentinel for exhausted columns (line 78) is end_m +
 * blockM. `offsets` must hold 0 (MInference always selects the main diagonal; the kernel reads
 * past its list otherwise): throws INVALID_PROBLEM without it.
 */
export function convertVerticalSlashIndexes(
  n: number,
  columns: readonly number[],
  offsets: readonly number[],
  blockM = MINFERENCE_BLOCK,
  blockN = MINFERENCE_BLOCK,
): QueryBlockIndex[] {
  if (!offsets.includes(0))
    throw new HplbError('INVALID_PROBLEM', 'vertical_slash offsets must hold 0, the main diagonal', {
      pointer: '/offsets',
    });
  const descending = [...offsets].sort((a, b) => b - a);
  const blocks: QueryBlockIndex[] = [];
  for (let startM = 0; startM < n; startM += blockM) {
    const endM = startM + blockM;
    const blockOffsets: number[] = [];
    const gathered: number[] = [];
    const saveBlocks = (from: number, to: number): void => {
      for (let idx = from; idx < to; idx += blockN) blockOffsets.push(idx);
    };
    let s = 0;
    let v = 0;
    // lines 63-67: skip diagonals that lie wholly above this query block (offset 0 never does)
    while (descending[s] >= endM) s++;
    let vIdx = columns.length > 0 ? columns[v++] : endM + blockM;
    let sIdx = Math.max(endM - descending[s++], blockM); // line 68
    let rangeStart = sIdx - blockM;
    let rangeEnd = sIdx;
    for (;;) {
      if (vIdx < rangeEnd) {
        // lines 71-79
        if (vIdx < rangeStart) gathered.push(vIdx);
        vIdx = v < columns.length ? columns[v++] : endM + blockM;
      } else {
        if (s < descending.length) {
          // lines 81-86
          sIdx = Math.max(endM - descending[s++], blockM);
        } else {
          saveBlocks(rangeStart, rangeEnd);
          break;
        }
        if (sIdx > rangeEnd + blockM) {
          // lines 87-93
          saveBlocks(rangeStart, rangeEnd);
          rangeStart = sIdx - blockM;
          rangeEnd = sIdx;
        } else if (sIdx > rangeEnd) {
          rangeEnd += blockM;
        }
      }
    }
    blocks.push({ blockOffsets, columns: gathered });
  }
  return blocks;
}
