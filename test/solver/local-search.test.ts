import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { differencingPlacement } from '../../src/solver/engines/differencing.ts';
import { greedyAssignment } from '../../src/solver/engines/greedy.ts';
import { resplitGroups } from '../../src/solver/engines/group-resplit.ts';
import { rebalancePairs } from '../../src/solver/engines/pair-rebalance.ts';
import { constraintViolation, makespanOf } from '../../src/solver/layer-result.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';
import { logNormalCosts } from '../../src/kernel/synthetic.ts';
import { FAST_CHECK_SEED, arbitrarySpec, assertOnProblems } from './helpers.ts';

describe('constructions and pair re-splitting', () => {
  for (const costKind of ['fractional', 'integer'] as const) {
    it(`${costKind} costs: re-splitting keeps every constraint and never makes a placement worse`, () => {
      assertOnProblems(arbitrarySpec(14, costKind), { numRuns: 200, seed: FAST_CHECK_SEED }, (problem) => {
        let start: number[];
        try {
          start = greedyAssignment(problem);
        } catch {
          return;
        }
        const result = rebalancePairs(problem, start);
        assert.equal(constraintViolation(problem, result), null);
        assert.ok(makespanOf(problem, result) <= makespanOf(problem, start));
      });
    });

    it(`${costKind} costs: differencing, where it applies, places every unit within the count rule`, () => {
      assertOnProblems(arbitrarySpec(14, costKind), { numRuns: 200, seed: FAST_CHECK_SEED }, (problem) => {
        const placed = differencingPlacement(problem);
        if (placed) assert.equal(constraintViolation(problem, placed), null);
      });
    });
  }

  it('re-splitting groups of GPUs keeps every count rule and never makes a placement worse', () => {
    let improved = 0;
    const rules = [{ kind: 'equal' }, { kind: 'free' }, { kind: 'max', max: 4 }] as const;
    fc.assert(
      fc.property(
        fc.integer({ min: 9, max: 12 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat(1000),
        fc.constantFrom(...rules),
        (gpus, perGpu, seed, unitsPerGpu) => {
          const headCosts = logNormalCosts(gpus * perGpu, 1, seed);
          const problem = buildLayerProblems({
            headCosts,
            kvGroupSize: 1,
            granularity: 'query-head',
            speeds: new Array<number>(gpus).fill(1),
            unitsPerGpu,
          })[0];
          const start = greedyAssignment(problem);
          // A clock that advances one step per look: a fixed amount of search, whatever the machine.
          let tick = 0;
          const result = resplitGroups(problem, start, { deadline: 300, now: () => tick++, goal: 0 });
          assert.equal(constraintViolation(problem, result), null);
          assert.ok(makespanOf(problem, result) <= makespanOf(problem, start));
          improved += makespanOf(problem, result) < makespanOf(problem, start) ? 1 : 0;
        },
      ),
      { numRuns: 40, seed: FAST_CHECK_SEED },
    );
    assert.ok(improved > 0, 'some placements improve (the groups are really re-split)');
  });

  it('re-splitting closes most of the gap greedy leaves on all-distinct costs', () => {
    const problem = buildLayerProblems({
      headCosts: logNormalCosts(128, 1, 1006),
      kvGroupSize: 1,
      granularity: 'query-head',
      speeds: new Array<number>(16).fill(1),
      unitsPerGpu: { kind: 'equal' },
    })[0];
    const greedy = greedyAssignment(problem);
    const total = problem.costs.reduce((a, b) => a + b, 0);
    const fluid = total / 16;
    const rebalanced = rebalancePairs(problem, greedy);
    assert.ok(
      makespanOf(problem, rebalanced) - fluid < (makespanOf(problem, greedy) - fluid) / 2,
      'at least halves the excess over the fluid bound',
    );
  });
});
