import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { minCostAssignment } from '../../../src/solver/replan/hungarian.ts';
import { scheduleRounds } from '../../../src/solver/replan/moves.ts';
import { FAST_CHECK_SEED } from '../helpers.ts';

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
  );
}

test('the assignment is a permutation of least total cost (brute force over every permutation)', () => {
  const matrix = fc.integer({ min: 1, max: 6 }).chain((n) =>
    fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: n, maxLength: n }), {
      minLength: n,
      maxLength: n,
    }),
  );
  fc.assert(
    fc.property(matrix, (cost) => {
      const chosen = minCostAssignment(cost);
      assert.deepEqual(
        [...chosen].sort((a, b) => a - b),
        cost.map((_, i) => i),
        'a permutation',
      );
      const total = (p: number[]) => p.reduce((s, j, i) => s + cost[i][j], 0);
      const best = Math.min(...permutations(cost.length).map(total));
      assert.equal(total(chosen), best);
    }),
    { seed: FAST_CHECK_SEED, numRuns: 200 },
  );
});

test("rounds never let a GPU send or receive twice, and use exactly the busiest GPU's count", () => {
  const transfers = fc
    .array(fc.record({ from: fc.integer({ min: 0, max: 5 }), to: fc.integer({ min: 0, max: 5 }) }), { maxLength: 60 })
    .map((list) => list.filter((t) => t.from !== t.to));
  fc.assert(
    fc.property(transfers, (list) => {
      const round = scheduleRounds(list);
      assert.equal(round.length, list.length);
      const seen = new Set<string>();
      list.forEach((t, i) => {
        assert.ok(Number.isInteger(round[i]) && round[i] >= 0);
        for (const key of [`s${t.from}@${round[i]}`, `r${t.to}@${round[i]}`]) {
          assert.ok(!seen.has(key), `conflict ${key}`);
          seen.add(key);
        }
      });
      const degree = new Map<string, number>();
      for (const t of list) for (const k of [`s${t.from}`, `r${t.to}`]) degree.set(k, (degree.get(k) ?? 0) + 1);
      const rounds = list.length === 0 ? 0 : Math.max(...round) + 1;
      assert.equal(rounds, Math.max(0, ...degree.values()), 'Konig: max degree rounds');
    }),
    { seed: FAST_CHECK_SEED, numRuns: 300 },
  );
});
