import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveCostModel } from '../../../src/cost/registry.ts';
import { loadGlpk } from '../../../src/planner/glpk.ts';
import { resolveRequest } from '../../../src/planner/request.ts';
import { loadRegistry } from '../../../src/profiles/registry.ts';
import { createEngines } from '../../../src/solver/engines/index.ts';
import { fluidBound, layerLowerBound } from '../../../src/solver/bounds.ts';
import { splitLowerBound } from '../../../src/solver/split/bounds.ts';
import { chainPlan } from '../../../src/solver/split/chain.ts';
import { roundToRows, shareMakespan, splitViolation } from '../../../src/solver/split/part-cost.ts';
import type { LayerSplits, SharePlan, SplitLayerResult } from '../../../src/solver/split/types.ts';
import type { LayerProblem } from '../../../src/solver/types.ts';
import { FAST_CHECK_SEED } from '../helpers.ts';
import { arbitrarySplitCase, heavyHeadCase } from './split-helpers.ts';

const WORK = 100_000;

/** Every split rule at the level of shares: shares sum to 1, the owner's is the largest, limits hold. */
function assertShareRules(problem: LayerProblem & { splits: LayerSplits }, plan: SharePlan): void {
  const { splits } = problem;
  assert.ok(plan.parts.size <= splits.maxSplitHeads);
  for (const [u, parts] of plan.parts) {
    assert.equal(problem.unit2pin?.[u] ?? -1, -1, `pinned unit ${u} is not split`);
    assert.ok(parts.length >= 2 && parts.length <= splits.maxPartsPerHead);
    assert.equal(new Set(parts.map((p) => p.gpu)).size, parts.length, 'parts on distinct GPUs');
    assert.ok(Math.abs(parts.reduce((s, p) => s + p.share, 0) - 1) <= 1e-9, 'shares sum to 1');
    const owner = parts.find((p) => p.gpu === plan.unit2gpu[u]);
    assert.ok(owner, `unit ${u} has a part on its owner`);
    assert.ok(
      parts.every((p) => p.share <= owner.share + 1e-12),
      "the owner's share is the largest",
    );
  }
  const { parts, unit2gpu } = roundToRows(splits, plan);
  assert.equal(splitViolation(problem, splits, unit2gpu, parts), null);
}

describe('chain search for split plans', () => {
  it('answers only with plans that keep every rule and stay within the level', () => {
    fc.assert(
      fc.property(arbitrarySplitCase(8), fc.double({ min: 1, max: 1.5, noNaN: true }), ({ problem }, factor) => {
        const level = fluidBound(problem) * factor;
        const plan = chainPlan(problem, problem.splits, level, WORK);
        if (!plan) return;
        assertShareRules(problem, plan);
        assert.ok(shareMakespan(problem, problem.splits, plan) <= level * (1 + 1e-9), 'makespan <= level');
      }),
      { numRuns: 150, seed: FAST_CHECK_SEED },
    );
  });

  it('finds nothing below the split lower bound (the bound holds for its plans)', () => {
    fc.assert(
      fc.property(arbitrarySplitCase(8), ({ problem }) => {
        const bound = splitLowerBound(problem, problem.splits, layerLowerBound(problem));
        assert.ok(bound > 0);
        assert.equal(chainPlan(problem, problem.splits, bound * (1 - 1e-6), WORK), null);
      }),
      { numRuns: 100, seed: FAST_CHECK_SEED },
    );
  });

  it("wraps a heavy head around as McNaughton's rule does, and gives up when out of budget", () => {
    const problem = heavyHeadCase();
    const plan = chainPlan(problem, problem.splits, 60, WORK);
    assert.ok(plan);
    assert.equal(shareMakespan(problem, problem.splits, plan), 60);
    assert.deepEqual([...plan.parts.keys()], [0]);
    assert.equal(chainPlan(problem, problem.splits, 60, 0), null);
  });

  it('proves every layer of the flagship at G = 8 with G - 1 split heads (the default cost model)', async () => {
    const registry = loadRegistry();
    const resolved = resolveRequest(
      {
        model: 'llama-3-8b-instruct-262k-minference',
        gpus: { count: 8 },
        constraints: { splits: { maxSplitHeads: 7 } },
      },
      { resolveProfile: (id) => registry.resolve(id), resolveCostModel },
    );
    const engines = createEngines(await loadGlpk());
    for (const problem of resolved.layers) {
      const result = engines.auto.solveLayer(problem, { timeLimitMs: 60_000, gapTolerance: 1e-4 }) as SplitLayerResult;
      assert.ok(['optimal', 'within_tolerance'].includes(result.status), `layer ${problem.layer}: ${result.status}`);
      assert.equal(splitViolation(problem, problem.splits!, result.unit2gpu, result.parts), null);
    }
  });
});
