/**
 * The uniform setting (a) of the evaluation: every head of a layer at the layer's largest budget,
 * so that no head attends fewer positions than under its adaptive budget. Pure.
 */
import { attendedTokens } from '../profiles/head-budget.ts';
import type { HeadBudget, Profile } from '../profiles/profile.ts';
import { profileVersion } from '../profiles/version.ts';

/** The budget of a layer's head that attends the most tokens at seqLen (first such head on ties). */
export function largestBudget(row: readonly HeadBudget[], seqLen: number): HeadBudget {
  return row.reduce((best, budget) => (attendedTokens(budget, seqLen) > attendedTokens(best, seqLen) ? budget : best));
}

/**
 * The profile of the uniform setting: every head of a layer gets the layer's largest budget, so no
 * head attends fewer tokens than under the adaptive budgets. Priced by the same cost model as the
 * adaptive budgets, group costs included.
 */
export function uniformProfile(profile: Profile, seqLen: number): Profile {
  const budgets = profile.budgets.map((row) => {
    const largest = largestBudget(row, seqLen);
    return row.map(() => largest);
  });
  return {
    ...profile,
    id: `${profile.id}-uniform`,
    version: profileVersion(profile.architecture, budgets),
    budgets,
  };
}
