import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { loadGlpk } from '../../../src/planner/glpk.ts';
import { constraintViolation, makespanOf } from '../../../src/solver/layer-result.ts';
import { TARGET_SLACK } from '../../../src/solver/replan/greedy-replan.ts';
import { searchFewestMoves } from '../../../src/solver/replan/move-search.ts';
import { totalMoveCost } from '../../../src/solver/replan/moves.ts';
import { replanLayer } from '../../../src/solver/replan/replan-layer.ts';
import type { MigrationSpec } from '../../../src/solver/replan/types.ts';
import type { LayerProblem } from '../../../src/solver/types.ts';
import { distinctCosts } from '../../../src/kernel/synthetic.ts';
import { FAST_CHECK_SEED, arbitrarySpec, problemOf } from '../helpers.ts';

const glpk = await loadGlpk();

/** Every placement of a small problem that meets its constraints, with makespan and move count. */
function everyPlacement(
  problem: LayerProblem,
  previous: readonly number[],
): { unit2gpu: number[]; makespan: number; moved: number }[] {
  const units = problem.costs.length;
  const gpus = problem.speeds.length;
  const unit2gpu = new Array<number>(units).fill(0);
  const found: { unit2gpu: number[]; makespan: number; moved: number }[] = [];
  const visit = (u: number): void => {
    if (u === units) {
      if (constraintViolation(problem, unit2gpu) !== null) return;
      const moved = unit2gpu.filter((g, i) => g !== previous[i]).length;
      found.push({ unit2gpu: [...unit2gpu], makespan: makespanOf(problem, unit2gpu), moved });
      return;
    }
    for (let g = 0; g < gpus; g++) {
      unit2gpu[u] = g;
      visit(u + 1);
    }
  };
  visit(0);
  return found;
}

const caseArb = fc.record({
  spec: arbitrarySpec(7),
  previousSeed: fc.array(fc.nat(), { minLength: 7, maxLength: 7 }),
  eps: fc.constantFrom(0, 0.02, 0.1, 0.3),
  maxMoves: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
});

type CaseValue = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * A drawn case, brute-forced: its problem and previous placement, the optimum and the (1 + eps)
 * target, and the fewest unit-cost moves that meet the target; null when the case has no placement.
 */
function bruteForce({ spec, previousSeed, eps }: CaseValue) {
  const problem = problemOf(spec);
  if (!problem) return null;
  const gpus = problem.speeds.length;
  const previous = problem.costs.map((_, u) => previousSeed[u] % gpus);
  const all = everyPlacement(problem, previous);
  if (all.length === 0) return null;
  const optimum = all.reduce((a, b) => (b.makespan < a.makespan ? b : a));
  const target = optimum.makespan * (1 + eps);
  const fewest = Math.min(...all.filter((p) => p.makespan <= target * (1 + TARGET_SLACK)).map((p) => p.moved));
  const migration: MigrationSpec = { previous, moveCosts: previous.map(() => 1), makespanTolerance: eps };
  return { problem, previous, optimum, target, fewest, migration };
}

test('the re-plan is within (1 + eps) of the optimum and a proven move count is the brute-force minimum', () => {
  fc.assert(
    fc.property(caseArb, (drawn) => {
      const brute = bruteForce(drawn);
      if (!brute) return;
      const { problem, previous, optimum, target, fewest, migration } = brute;
      const replan = replanLayer(problem, migration, optimum, { glpk, timeLimitMs: 5_000 });

      assert.equal(constraintViolation(problem, replan.unit2gpu), null, 'every constraint holds');
      assert.ok(makespanOf(problem, replan.unit2gpu) <= target * (1 + TARGET_SLACK), 'makespan within the target');
      assert.ok(replan.movedUnits >= fewest, 'never fewer moves than exist');
      assert.equal(replan.moveStatus, 'optimal', 'small cases are proven');
      assert.equal(replan.movedUnits, fewest, 'the proven move count is the minimum');
      assert.equal(replan.moveLowerBound, replan.moveCost);
      const moved = [...previous];
      for (const move of replan.moves) {
        assert.equal(moved[move.unit], move.from, 'a move leaves where the unit was');
        moved[move.unit] = move.to;
      }
      assert.deepEqual(moved, replan.unit2gpu, 'the moves turn the previous placement into the new one');
    }),
    { seed: FAST_CHECK_SEED, numRuns: 60 },
  );
});

test('the exact move search alone finds the brute-force fewest moves and says it finished', () => {
  fc.assert(
    fc.property(caseArb, (drawn) => {
      const brute = bruteForce(drawn);
      if (!brute) return;
      const { problem, previous, target, fewest, migration } = brute;
      const found = searchFewestMoves(problem, migration, target, Infinity, Infinity, () => 0);
      assert.ok(found.proved && found.unit2gpu);
      assert.equal(constraintViolation(problem, found.unit2gpu), null);
      assert.ok(makespanOf(problem, found.unit2gpu) <= target * (1 + TARGET_SLACK));
      assert.equal(found.unit2gpu.filter((g, u) => g !== previous[u]).length, fewest);
      // Asked for fewer than the minimum, it finds nothing and proves so.
      assert.deepEqual(
        searchFewestMoves(problem, migration, target, fewest, Infinity, () => 0),
        { unit2gpu: null, proved: true },
      );
    }),
    { seed: FAST_CHECK_SEED + 3, numRuns: 80 },
  );
});

test('with unequal move costs and a GPU distance matrix, a proven move cost is the brute-force minimum', () => {
  const weighted = fc.record({
    spec: arbitrarySpec(6),
    previousSeed: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
    moveCosts: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 6, maxLength: 6 }),
    eps: fc.constantFrom(0, 0.05, 0.2),
  });
  fc.assert(
    fc.property(weighted, ({ spec, previousSeed, moveCosts, eps }) => {
      const problem = problemOf(spec);
      if (!problem) return;
      const gpus = problem.speeds.length;
      const previous = problem.costs.map((_, u) => previousSeed[u] % gpus);
      // Two nodes: GPUs 0..1 and 2..3; crossing costs three times as much.
      const gpuDistance = Array.from({ length: gpus }, (_, a) =>
        Array.from({ length: gpus }, (_, b) => (a === b ? 0 : a < 2 === b < 2 ? 1 : 3)),
      );
      const migration: MigrationSpec = {
        previous,
        moveCosts: moveCosts.slice(0, problem.costs.length),
        gpuDistance,
        makespanTolerance: eps,
      };
      const all = everyPlacement(problem, previous);
      if (all.length === 0) return;
      const optimum = all.reduce((a, b) => (b.makespan < a.makespan ? b : a));
      const target = optimum.makespan * (1 + eps) * (1 + TARGET_SLACK);
      const cheapest = Math.min(
        ...all.filter((p) => p.makespan <= target).map((p) => totalMoveCost(migration, p.unit2gpu)),
      );
      const replan = replanLayer(problem, migration, optimum, { glpk, timeLimitMs: 5_000 });
      assert.equal(constraintViolation(problem, replan.unit2gpu), null);
      assert.ok(makespanOf(problem, replan.unit2gpu) <= target);
      assert.equal(replan.moveCost, totalMoveCost(migration, replan.unit2gpu));
      assert.ok(replan.moveLowerBound <= cheapest * (1 + 1e-9), 'the move bound is valid');
      assert.equal(replan.moveStatus, 'optimal');
      assert.ok(
        Math.abs(replan.moveCost - cheapest) <= 1e-6 * Math.max(1, cheapest),
        `proven minimal: ${replan.moveCost} vs ${cheapest}`,
      );
    }),
    { seed: FAST_CHECK_SEED + 2, numRuns: 60 },
  );
});

test('with maxMoves the makespan is within (1 + eps) of the best reachable with that many moves', () => {
  let binding = 0;
  fc.assert(
    fc.property(caseArb, ({ spec, previousSeed, eps, maxMoves }) => {
      const problem = problemOf(spec);
      if (!problem || maxMoves === undefined) return;
      const gpus = problem.speeds.length;
      const previous = problem.costs.map((_, u) => previousSeed[u] % gpus);
      const all = everyPlacement(problem, previous);
      const reachable = all.filter((p) => p.moved <= maxMoves);
      if (reachable.length === 0) return;
      const optimum = all.reduce((a, b) => (b.makespan < a.makespan ? b : a));
      const bestReachable = Math.min(...reachable.map((p) => p.makespan));
      if (bestReachable > optimum.makespan * (1 + eps) * (1 + TARGET_SLACK)) binding += 1;
      const migration: MigrationSpec = { previous, moveCosts: previous.map(() => 1), makespanTolerance: eps, maxMoves };
      const replan = replanLayer(problem, migration, optimum, { glpk, timeLimitMs: 5_000 });
      assert.equal(constraintViolation(problem, replan.unit2gpu), null);
      assert.ok(replan.movedUnits <= maxMoves, 'the move limit holds');
      assert.ok(
        makespanOf(problem, replan.unit2gpu) <= bestReachable * (1 + eps) * (1 + 1e-6),
        'best makespan under the limit, within eps',
      );
      if (replan.limitedMakespanBound !== undefined)
        assert.ok(replan.limitedMakespanBound <= bestReachable * (1 + 1e-9), 'the bound under the limit is valid');
    }),
    { seed: FAST_CHECK_SEED + 1, numRuns: 120 },
  );
  assert.ok(binding >= 5, `the limit binds in enough cases to matter (${binding})`);
});

test('without GLPK the answer is the relabelled fresh plan improved by swaps, marked heuristic', () => {
  const problem: LayerProblem = {
    layer: 0,
    costs: [5, 4, 3, 3, 2, 1],
    speeds: [1, 1, 1],
    minUnitsPerGpu: 2,
    maxUnitsPerGpu: 2,
  };
  const previous = [0, 0, 1, 1, 2, 2];
  const fresh = [2, 1, 0, 0, 1, 2]; // loads 6, 6, 6: optimal, but labels shuffled
  const replan = replanLayer(
    problem,
    { previous, moveCosts: [1, 1, 1, 1, 1, 1], makespanTolerance: 0 },
    { unit2gpu: fresh, makespan: 6 },
    { glpk: null, timeLimitMs: 100 },
  );
  assert.equal(replan.moveStatus, 'heuristic');
  assert.equal(replan.moveEngine, 'greedy');
  assert.ok(makespanOf(problem, replan.unit2gpu) <= 6);
  assert.ok(replan.movedUnits <= 4, `relabelling keeps at least two units home, moved ${replan.movedUnits}`);
});

test('a previous placement within the target is kept with no moves, proven', () => {
  const problem: LayerProblem = { layer: 0, costs: [4, 4, 3, 3], speeds: [1, 1], minUnitsPerGpu: 2, maxUnitsPerGpu: 2 };
  const replan = replanLayer(
    problem,
    { previous: [0, 0, 1, 1], moveCosts: [1, 1, 1, 1], makespanTolerance: 0.2 },
    { unit2gpu: [0, 1, 0, 1], makespan: 7 },
    { glpk, timeLimitMs: 1_000 },
  );
  assert.equal(replan.movedUnits, 0);
  assert.equal(replan.moveEngine, 'previous');
  assert.equal(replan.moveStatus, 'optimal');
});

test('units on a GPU that is gone must move, and the distance matrix steers where', () => {
  const problem: LayerProblem = {
    layer: 0,
    costs: [1, 1, 1, 1],
    speeds: [1, 1, 1],
    minUnitsPerGpu: 0,
    maxUnitsPerGpu: 4,
  };
  // GPU 3 is drained; GPU 2 is on its node (distance 1), GPUs 0 and 1 across (distance 5).
  const gpuDistance = [
    [0, 1, 5, 5],
    [1, 0, 5, 5],
    [5, 5, 0, 1],
    [5, 5, 1, 0],
  ];
  const spec: MigrationSpec = {
    previous: [0, 1, 3, 2],
    moveCosts: [10, 10, 10, 10],
    gpuDistance,
    makespanTolerance: 1,
  };
  const replan = replanLayer(problem, spec, { unit2gpu: [0, 1, 2, 2], makespan: 2 }, { glpk, timeLimitMs: 1_000 });
  assert.deepEqual(replan.moves, [{ unit: 2, from: 3, to: 2, cost: 10 }]);
  assert.equal(replan.moveStatus, 'optimal');
});

test('the move search that runs out of time claims nothing', () => {
  const costs = distinctCosts(32, 7);
  const problem: LayerProblem = {
    layer: 0,
    costs,
    speeds: new Array<number>(8).fill(1),
    minUnitsPerGpu: 4,
    maxUnitsPerGpu: 4,
  };
  const previous = costs.map((_, u) => u % 8);
  const migration: MigrationSpec = { previous, moveCosts: previous.map(() => 1), makespanTolerance: 0 };
  // The clock is past the deadline at the first look: the search stops there.
  const tight = (costs.reduce((a, b) => a + b, 0) / 8) * 1.001;
  const found = searchFewestMoves(problem, migration, tight, Infinity, 0, () => 1);
  assert.equal(found.proved, false);
});
