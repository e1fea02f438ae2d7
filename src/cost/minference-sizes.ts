/**
 * MInference's vertical_slash sizing rules that need no attention scores (microsoft/MInference
 * commit fb56c917f618e8645f1cfc37535afd7424d78f0d, minference/modules/minference_forward.py): the
 * forced lines and minimum sizes. A leaf of the cost model, so that the executed-work model
 * (work.ts) and the kernel's selection (src/kernel/minference.ts) share them while src/kernel
 * depends on src/cost and never the other way.
 */

/** Columns 0..29 are always kept (minference_forward.py line 388). */
export const FORCED_COLUMNS = 30;
/** Diagonals nearest the main one that are always kept (lines 243 and 432; 100 at minference_forward.py line 392). */
export const FORCED_DIAGONALS = 30;
/** Minimum sizes (minference_forward.py line 382). */
const MIN_VERTICAL = 30;
const MIN_SLASH = 50;

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
