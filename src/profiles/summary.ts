/**
 * Budget heterogeneity of a profile, as GET /v1/models reports it (src/http/routes/models.ts): per layer,
 * how unequal the heads' nominal keys per row are.
 */
import { attendedTokens, type HeadBudget } from './head-budget.ts';
import type { Profile } from './profile.ts';
import { canonicalJson } from './version.ts';

/** How unequal one layer's heads are, in tokens attended per query row at a given sequence length. */
export interface LayerSummary {
  readonly layer: number;
  /** Number of different budgets (kind and numbers) among the layer's query heads. */
  readonly distinctBudgets: number;
  readonly minAttended: number;
  readonly maxAttended: number;
  /** maxAttended / minAttended. */
  readonly maxOverMin: number;
  /** Coefficient of variation of attended tokens over the layer's heads: population std / mean. */
  readonly cv: number;
}

/**
 * Per-layer summary of budget heterogeneity ([layers] entries): attended = attendedTokens(budget,
 * seqLen) tokens per query row, so full heads count seqLen.
 */
export function summarizeProfile(profile: Profile, seqLen: number): LayerSummary[] {
  return profile.budgets.map((row: readonly HeadBudget[], layer) => {
    const attended = row.map((budget) => attendedTokens(budget, seqLen));
    const mean = attended.reduce((sum, a) => sum + a, 0) / attended.length;
    const variance = attended.reduce((sum, a) => sum + (a - mean) ** 2, 0) / attended.length;
    const minAttended = Math.min(...attended);
    const maxAttended = Math.max(...attended);
    return {
      layer,
      distinctBudgets: new Set(row.map(canonicalJson)).size,
      minAttended,
      maxAttended,
      maxOverMin: maxAttended / minAttended,
      cv: Math.sqrt(variance) / mean,
    };
  });
}
