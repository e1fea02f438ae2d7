import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadGlpk } from '../../../src/planner/glpk.ts';
import { createEngines } from '../../../src/solver/engines/index.ts';
import { splitViolation } from '../../../src/solver/split/part-cost.ts';
import type { LayerSplits, SplitLayerResult } from '../../../src/solver/split/types.ts';
import type { LayerProblem } from '../../../src/solver/types.ts';
import { FAST_CHECK_SEED } from '../helpers.ts';
import { arbitrarySplitCase, heavyHeadCase } from './split-helpers.ts';

const glpk = await loadGlpk();
const engines = createEngines(glpk);
const options = { timeLimitMs: 2000, gapTolerance: 1e-4 };

/** The groups each GPU holds (owned units and parts), counted by hand. */
function heldGroups(problem: LayerProblem & { splits: LayerSplits }, result: SplitLayerResult): Set<number>[] {
  const held = problem.speeds.map(() => new Set<number>());
  const split = new Set(result.parts.map((p) => p.unit));
  result.unit2gpu.forEach((g, u) => {
    if (!split.has(u)) held[g].add(problem.unit2group![u]);
  });
  for (const part of result.parts) held[part.gpu].add(problem.unit2group![part.unit]);
  return held;
}

describe('split heads with KV copies and a KV-cache cap', () => {
  it('answers stay within the cap, pay each copy, and count their KV heads with their extra copies', () => {
    const copies = fc.record({
      cost: fc.constantFrom(0, 3, 40),
      extra: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(arbitrarySplitCase(8), copies, ({ problem: base }, { cost, extra }) => {
        const unit2group = base.costs.map((_, u) => Math.floor(u / 2));
        const groups = unit2group[unit2group.length - 1] + 1;
        const problem = {
          ...base,
          unit2group,
          groupCosts: Array.from({ length: groups }, (_, k) => cost * (1 + (k % 2))),
          ...(extra !== undefined ? { maxStoredGroups: groups + extra } : {}),
          contiguousKvHeads: groups,
        };
        let result: SplitLayerResult;
        try {
          result = engines.auto.solveLayer(problem, options) as SplitLayerResult;
        } catch (error) {
          if (error instanceof Error && error.name === 'HplbError') return;
          throw error;
        }
        assert.equal(splitViolation(problem, problem.splits, result.unit2gpu, result.parts), null);
        const held = heldGroups(problem, result);
        const stored = held.reduce((s, set) => s + set.size, 0);
        if (problem.maxStoredGroups !== undefined) assert.ok(stored <= problem.maxStoredGroups, 'within the cap');
        assert.deepEqual(
          result.kvHeadsPerGpu,
          held.map((set) => set.size),
        );
        assert.equal(result.kvHeadsStored, stored);
        const split = new Set(result.parts.map((p) => p.unit));
        held.forEach((set, g) => {
          let sum = 0;
          result.unit2gpu.forEach((h, u) => {
            if (h === g && !split.has(u)) sum += problem.costs[u];
          });
          for (const part of result.parts) if (part.gpu === g) sum += part.cost;
          for (const k of set) sum += problem.groupCosts[k];
          const load = sum / problem.speeds[g];
          assert.ok(Math.abs(load - result.gpuLoads[g]) <= 1e-9 * Math.max(1, load), `GPU ${g} pays its copies`);
          const owned = new Set(result.unit2gpu.flatMap((h, u) => (h === g ? [problem.unit2group[u]] : [])));
          assert.equal(set.size, owned.size + result.extraKvCopies[g], `GPU ${g}: own groups + extra copies`);
        });
        assert.ok(result.lowerBound <= result.makespan * (1 + 1e-12));
        assert.ok(result.makespan <= result.wholeMakespan * (1 + 1e-12));
      }),
      { numRuns: 60, seed: FAST_CHECK_SEED },
    );
  });

  it('a cap that leaves no room for a part keeps the whole-unit answer and says why', () => {
    const base = heavyHeadCase();
    const free = { ...base, unit2group: [0, 1, 2, 3], groupCosts: [0, 0, 0, 0], contiguousKvHeads: 4 };
    const unlimited = engines.auto.solveLayer(free, options) as SplitLayerResult;
    assert.equal(unlimited.splitHeads, 1, 'without a cap the heavy head is split');
    assert.equal(unlimited.kvHeadsStored, 5, 'its part brings its group onto the other GPU');
    const capped = engines.auto.solveLayer({ ...free, maxStoredGroups: 4 }, options) as SplitLayerResult;
    assert.equal(capped.splitHeads, 0);
    assert.equal(capped.kvHeadsStored, 4);
    assert.equal(capped.makespan, 100);
    assert.match(capped.splitsDeclined ?? '', /no split fits the cap of 4 KV heads/);
    // With every split out of reach the layer is the whole-unit problem: its proof stands.
    assert.equal(capped.status, 'optimal');
    assert.equal(capped.lowerBound, 100);
  });

  it('units that are their own KV groups (MHA heads, KV-group units) keep the cap: each part stores one more', () => {
    const base = heavyHeadCase();
    const ownGroups = (maxStoredKvHeads: number) => ({
      ...base,
      contiguousKvHeads: 4,
      splits: { ...base.splits, maxStoredKvHeads },
    });
    const capped = engines.auto.solveLayer(ownGroups(4), options) as SplitLayerResult;
    assert.equal(capped.splitHeads, 0, 'cap 1.0: no room for a part');
    assert.equal(capped.kvHeadsStored, 4);
    assert.equal(capped.status, 'optimal');
    const roomForOne = engines.auto.solveLayer(ownGroups(5), options) as SplitLayerResult;
    assert.equal(roomForOne.splitHeads, 1);
    assert.equal(roomForOne.kvHeadsStored, 5);
    assert.equal(
      splitViolation(ownGroups(4), ownGroups(4).splits, roomForOne.unit2gpu, roomForOne.parts) !== null,
      true,
    );
  });
});
