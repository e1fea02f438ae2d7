import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { layerLowerBound } from '../../../src/solver/bounds.ts';
import { constraintViolation, makespanOf } from '../../../src/solver/layer-result.ts';
import { splitLowerBound } from '../../../src/solver/split/bounds.ts';
import type { LayerSplits } from '../../../src/solver/split/types.ts';
import type { LayerProblem } from '../../../src/solver/types.ts';
import { FAST_CHECK_SEED } from '../helpers.ts';
import { arbitrarySplitCase } from './split-helpers.ts';

type Problem = LayerProblem & { unit2group: number[]; groupCosts: number[]; splits: LayerSplits };

/** Every assignment of `units` units to `gpus` GPUs (unit2gpu), visited in turn. */
function eachAssignment(units: number, gpus: number, visit: (unit2gpu: number[]) => void): void {
  const unit2gpu = new Array<number>(units).fill(0);
  const walk = (u: number): void => {
    if (u === units) {
      visit(unit2gpu);
      return;
    }
    for (let g = 0; g < gpus; g++) {
      unit2gpu[u] = g;
      walk(u + 1);
    }
  };
  walk(0);
}

/**
 * The optimum with at most one split unit in two parts and every stored group paying its copy, by
 * enumeration: every whole placement that keeps the rules, and every split unit, second GPU and
 * placement of the owners, with the share on the second GPU (at most half) where both loads meet.
 */
function bruteForceOneSplitWithCopies(problem: Problem): number {
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  const s = problem.speeds;
  let best = Infinity;
  eachAssignment(units, gpus, (owners) => {
    if (constraintViolation(problem, owners) !== null) return;
    best = Math.min(best, makespanOf(problem, owners));
    for (let u = 0; u < units; u++) {
      if ((problem.unit2pin?.[u] ?? -1) >= 0) continue;
      const owner = owners[u];
      const { variable: v, partOverhead: o } = problem.splits.units[u];
      for (let second = 0; second < gpus; second++) {
        if (second === owner) continue;
        const held = problem.speeds.map(() => new Set<number>());
        const sums = new Array<number>(gpus).fill(0);
        owners.forEach((g, i) => {
          held[g].add(problem.unit2group[i]);
          if (i !== u) sums[g] += problem.costs[i];
        });
        held[second].add(problem.unit2group[u]);
        if (problem.minUnitsPerGpu < problem.maxUnitsPerGpu) {
          // Under max:N the part counts among the units its GPU holds.
          if (owners.filter((g) => g === second).length + 1 > problem.maxUnitsPerGpu) continue;
        }
        held.forEach((set, g) => {
          for (const k of set) sums[g] += problem.groupCosts[k];
        });
        const rest = Math.max(0, ...sums.map((x, g) => (g === owner || g === second ? 0 : x / s[g])));
        const meet = (s[second] * (sums[owner] + v + o) - s[owner] * (sums[second] + o)) / (v * (s[owner] + s[second]));
        const a = v > 0 ? Math.min(0.5, Math.max(0, meet)) : 0;
        const value = Math.max(
          rest,
          (sums[owner] + (1 - a) * v + o) / s[owner],
          (sums[second] + a * v + o) / s[second],
        );
        best = Math.min(best, value);
      }
    }
  });
  return best;
}

describe('the split lower bound with KV copies', () => {
  it('stays at or below the brute-force optimum with one split unit, and counts copies (stronger than without them)', () => {
    let stronger = 0;
    fc.assert(
      fc.property(
        arbitrarySplitCase(6, 3),
        fc.array(fc.constantFrom(0, 5, 40), { minLength: 3, maxLength: 3 }),
        ({ problem: base }, copyCosts) => {
          const unit2group = base.costs.map((_, u) => Math.floor(u / 2));
          const groups = unit2group[unit2group.length - 1] + 1;
          const problem: Problem = {
            ...base,
            unit2group,
            groupCosts: copyCosts.slice(0, groups),
            splits: { ...base.splits, maxSplitHeads: 1, maxPartsPerHead: 2 },
          };
          const optimum = bruteForceOneSplitWithCopies(problem);
          if (!Number.isFinite(optimum)) return;
          const whole = layerLowerBound(problem);
          const bound = splitLowerBound(problem, problem.splits, whole);
          assert.ok(bound <= optimum * (1 + 1e-9), `bound ${bound} above the optimum ${optimum}`);
          const { groupCosts: _copies, ...withoutCopies } = problem;
          if (bound > splitLowerBound(withoutCopies, problem.splits, whole) * (1 + 1e-9)) stronger += 1;
        },
      ),
      { numRuns: 150, seed: FAST_CHECK_SEED },
    );
    assert.ok(stronger > 0, 'copies raise the bound on some problems');
  });
});
