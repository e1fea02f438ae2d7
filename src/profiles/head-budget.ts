/**
 * A head's sparse-attention budget as profiles state it, and the nominal keys per row it names.
 * A leaf module: profiles, cost models and budgets all depend on it, it depends on nothing.
 */

/**
 * A head's budget in one of the forms found in the data:
 * - vertical_slash: MInference's vertical_size key columns (`vertical`) and slash_size diagonals
 *   (`slash`), each a count of lines, kept apart because its kernel does different work for each;
 * - streaming: StreamingLLM's `sink` first keys plus the `recent` keys ending at the query;
 * - full: every causal key.
 */
export type HeadBudget =
  | { readonly kind: 'vertical_slash'; readonly vertical: number; readonly slash: number }
  | { readonly kind: 'streaming'; readonly sink: number; readonly recent: number }
  | { readonly kind: 'full' };

/**
 * Nominal keys per query row of a long enough sequence: the budget's line or window counts added
 * up (seqLen for full). Not what a kernel executes (src/cost/work.ts counts that): MInference's
 * vertical_slash kernel runs 64-key ranges around each diagonal.
 */
export function attendedTokens(budget: HeadBudget, seqLen: number): number {
  switch (budget.kind) {
    case 'vertical_slash':
      return budget.vertical + budget.slash;
    case 'streaming':
      return budget.sink + budget.recent;
    case 'full':
      return seqLen;
  }
}
