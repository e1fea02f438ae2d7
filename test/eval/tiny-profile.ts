import type { HeadBudget, Profile } from '../../src/profiles/profile.ts';
import { inlineProfile } from '../profiles/inline-profile.ts';

const vs = (vertical: number, slash: number): HeadBudget => ({ kind: 'vertical_slash', vertical, slash });

/**
 * 2 layers x 4 heads in 2 KV groups ({0, 1} and {2, 3}); layer 0's two big heads share a group,
 * so contiguous placement is bad and only storing both groups on both GPUs can balance it.
 */
export function tinyEvalProfile(): Profile {
  return inlineProfile(
    [
      [vs(0, 4000), vs(0, 4000), vs(0, 1000), vs(0, 1000)],
      [
        { kind: 'streaming', sink: 4, recent: 60 },
        { kind: 'full' },
        vs(100, 900),
        { kind: 'streaming', sink: 4, recent: 60 },
      ],
    ],
    { id: 'tiny-eval', displayName: 'Tiny eval profile' },
  );
}
