/**
 * A port of MInference's convert_vertical_slash_indexes (microsoft/MInference commit
 * fb56c917f618e8645f1cfc37535afd7424d78f0d, csrc/vertical_slash_index.cu), how its kernel turns
 * selected columns and diagonals into the key blocks and gathered columns it runs per block of
 * query rows. Pure and free of the other kernel modules, so that the pattern index (pattern.ts) and
 * the executed work (pattern-work.ts) share it. The sizing rules (forced lines, minimum sizes) are
 * the cost model's: src/cost/minference-sizes.ts.
 */
import { HplbError } from '../errors.ts';

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
