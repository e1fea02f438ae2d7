/** Small profiles built in a test, versioned as the registry versions the committed ones. */
import type { Architecture, HeadBudget, Profile } from '../../src/profiles/profile.ts';
import { profileVersion } from '../../src/profiles/version.ts';

/** 2 layers x 4 query heads in 2 KV groups. */
export const TINY_ARCHITECTURE: Architecture = { layers: 2, queryHeads: 4, kvHeads: 2, headDim: 128 };

/** A profile of `budgets` ([layers][query heads]) on `architecture`, with an inline provenance. */
export function inlineProfile(
  budgets: readonly (readonly HeadBudget[])[],
  { id = 'tiny-test', displayName = 'Tiny test profile', architecture = TINY_ARCHITECTURE } = {},
): Profile {
  return {
    id,
    displayName,
    version: profileVersion(architecture, budgets),
    architecture,
    provenance: {
      repository: 'none',
      path: 'inline',
      commit: 'none',
      licence: 'CC0-1.0',
      meaning: 'test',
      sourceModel: 'tiny',
    },
    budgets,
  };
}

/** A valid tiny profile: layer 0 has three distinct budgets, layer 1 is all full heads. */
export function tinyProfile(): Profile {
  return inlineProfile([
    [
      { kind: 'vertical_slash', vertical: 100, slash: 900 },
      { kind: 'full' },
      { kind: 'streaming', sink: 4, recent: 60 },
      { kind: 'full' },
    ],
    [{ kind: 'full' }, { kind: 'full' }, { kind: 'full' }, { kind: 'full' }],
  ]);
}
