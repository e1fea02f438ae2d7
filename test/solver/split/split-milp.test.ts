import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadGlpk } from '../../../src/planner/glpk.ts';
import { splitLowerBound } from '../../../src/solver/split/bounds.ts';
import { groupLowerBound } from '../../../src/solver/split/group-bound.ts';
import { solveSplitMilp } from '../../../src/solver/split/milp.ts';
import { shareMakespan } from '../../../src/solver/split/part-cost.ts';
import type { LayerSplits } from '../../../src/solver/split/types.ts';
import type { LayerProblem } from '../../../src/solver/types.ts';
import { FAST_CHECK_SEED, bruteForceOptimum } from '../helpers.ts';
import { arbitrarySplitCase } from './split-helpers.ts';

const glpk = await loadGlpk();

/**
 * The split optimum with at most one split unit in two parts, by enumeration: every whole
 * placement, and every split unit, owner, second GPU and placement of the other units, with the
 * best share for the second part (loads on the two GPUs meet, the owner keeping at least half).
 */
function bruteForceOneSplit(problem: LayerProblem & { splits: LayerSplits }): number {
  let best = bruteForceOptimum(problem) ?? Infinity;
  const units = problem.costs.length;
  const gpus = problem.speeds.length;
  const s = problem.speeds;
  const pinOf = (u: number) => problem.unit2pin?.[u] ?? -1;
  for (let u = 0; u < units; u++) {
    if (pinOf(u) >= 0) continue;
    const { variable: v, partOverhead: o } = problem.splits.units[u];
    const others = Array.from({ length: units }, (_, i) => i).filter((i) => i !== u);
    const place = new Array<number>(units).fill(0);
    const visit = (i: number, owner: number, second: number): void => {
      if (i < others.length) {
        for (let g = 0; g < gpus; g++) {
          const pin = pinOf(others[i]);
          if (pin >= 0 && pin !== g) continue;
          place[others[i]] = g;
          visit(i + 1, owner, second);
        }
        return;
      }
      const owned = new Array<number>(gpus).fill(0);
      const sums = new Array<number>(gpus).fill(0);
      for (const i of others) {
        owned[place[i]] += 1;
        sums[place[i]] += problem.costs[i];
      }
      owned[owner] += 1;
      if (owned.some((n) => n < problem.minUnitsPerGpu || n > problem.maxUnitsPerGpu)) return;
      if (problem.minUnitsPerGpu < problem.maxUnitsPerGpu && owned[second] + 1 > problem.maxUnitsPerGpu) return;
      const rest = Math.max(0, ...sums.map((x, g) => (g === owner || g === second ? 0 : x / s[g])));
      // The share a on `second` at which both loads meet, kept in [0, 1/2] (the owner keeps the most).
      const meet = (s[second] * (sums[owner] + v + o) - s[owner] * (sums[second] + o)) / (v * (s[owner] + s[second]));
      const a = Math.min(0.5, Math.max(0, meet));
      const value = Math.max(rest, (sums[owner] + (1 - a) * v + o) / s[owner], (sums[second] + a * v + o) / s[second]);
      best = Math.min(best, value);
    };
    for (let owner = 0; owner < gpus; owner++) {
      for (let second = 0; second < gpus; second++) if (second !== owner) visit(0, owner, second);
    }
  }
  return best;
}

describe('group bound against enumeration', () => {
  it('stays at or below the optimum with one split unit, and is above the split bound on some problems', () => {
    let stronger = 0;
    fc.assert(
      fc.property(arbitrarySplitCase(6, 3), fc.boolean(), ({ problem: base }, alike) => {
        // The bound applies to identical GPUs without pins under the equal rule.
        const { unit2pin: _pins, ...rest } = base;
        const problem = {
          ...rest,
          speeds: alike ? base.speeds.map(() => 1) : base.speeds,
          splits: { ...base.splits, maxSplitHeads: 1, maxPartsPerHead: 2 },
        };
        const whole = bruteForceOptimum(problem);
        if (whole === null) return;
        const optimum = bruteForceOneSplit(problem);
        const grouped = groupLowerBound(problem, problem.splits);
        assert.ok(grouped <= optimum * (1 + 1e-9), `group bound ${grouped} <= optimum ${optimum}`);
        if (grouped > splitLowerBound(problem, problem.splits, whole) * (1 + 1e-9)) stronger += 1;
      }),
      { numRuns: 150, seed: FAST_CHECK_SEED },
    );
    assert.ok(stronger > 0, 'the group bound is stronger somewhere');
  });
});

describe('split MILP against enumeration', () => {
  it('finds the optimum with one split unit of two parts on small problems, and its bound holds', () => {
    fc.assert(
      fc.property(arbitrarySplitCase(5, 3), ({ problem: base }) => {
        const problem = { ...base, splits: { ...base.splits, maxSplitHeads: 1, maxPartsPerHead: 2 } };
        if (problem.splits.units.some((unit) => unit.variable <= 0)) return;
        const optimum = bruteForceOneSplit(problem);
        const whole = bruteForceOptimum(problem);
        if (whole === null) return;
        const bound = splitLowerBound(problem, problem.splits, whole);
        assert.ok(bound <= optimum * (1 + 1e-9), `bound ${bound} <= optimum ${optimum}`);
        const limits = { upper: Infinity, lowerBound: bound, timeLimitMs: 5000, gapTolerance: 1e-6 };
        const milp = solveSplitMilp(glpk, problem, problem.splits, limits);
        assert.equal(milp.outcome, 'proved');
        assert.ok(milp.plan !== null);
        const found = shareMakespan(problem, problem.splits, milp.plan);
        assert.ok(Math.abs(found - optimum) <= 1e-5 * optimum, `MILP ${found} vs enumeration ${optimum}`);
        assert.ok(milp.lowerBound <= optimum * (1 + 1e-9), 'MILP bound holds');
      }),
      { numRuns: 40, seed: FAST_CHECK_SEED },
    );
  });
});
