import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadGlpk } from '../../../src/planner/glpk.ts';
import { createEngines } from '../../../src/solver/engines/index.ts';
import { fluidBound } from '../../../src/solver/bounds.ts';
import { partCost, partLoads, splitViolation } from '../../../src/solver/split/part-cost.ts';
import type { SplitLayerResult } from '../../../src/solver/split/types.ts';
import { FAST_CHECK_SEED } from '../helpers.ts';
import { arbitrarySplitCase, heavyHeadCase } from './split-helpers.ts';

const glpk = await loadGlpk();
const engines = createEngines(glpk);
const options = { timeLimitMs: 2000, gapTolerance: 1e-4 };

describe('split heads on random problems', () => {
  it("parts cover each split head's rows once, loads recompute, every rule holds, bound <= makespan <= whole", () => {
    fc.assert(
      fc.property(arbitrarySplitCase(8), fc.constantFrom('auto', 'greedy' as const), ({ problem }, engine) => {
        const result = engines[engine].solveLayer(problem, options) as SplitLayerResult;
        const splits = problem.splits;
        assert.equal(splitViolation(problem, splits, result.unit2gpu, result.parts), null);
        for (const part of result.parts) {
          const cost = partCost(splits.units[part.unit], splits.rows, part.rows[0], part.rows[1]);
          assert.ok(Math.abs(cost - part.cost) <= 1e-9 * Math.max(1, cost), 'part cost recomputes from its rows');
        }
        const loads = partLoads(problem, result.unit2gpu, result.parts);
        loads.forEach((l, g) => {
          assert.ok(Math.abs(l - result.gpuLoads[g]) <= 1e-9 * Math.max(1, l), `load of GPU ${g} recomputes`);
        });
        assert.equal(result.makespan, Math.max(...result.gpuLoads));
        assert.ok(result.lowerBound <= result.makespan * (1 + 1e-12), 'bound <= makespan');
        assert.ok(result.makespan <= result.wholeMakespan * (1 + 1e-12), 'never worse than whole heads');
        assert.equal(result.splitHeads, new Set(result.parts.map((p) => p.unit)).size);
        for (const [g, units] of result.gpu2units.entries()) {
          for (const u of units) {
            const holds = result.unit2gpu[u] === g || result.parts.some((p) => p.unit === u && p.gpu === g);
            assert.ok(holds, `GPU ${g} holds unit ${u}`);
          }
        }
        if (result.status === 'optimal') assert.ok(result.gap <= 1e-9);
        if (engine === 'greedy') assert.notEqual(result.status, 'time_limit');
      }),
      { numRuns: 60, seed: FAST_CHECK_SEED },
    );
  });

  it('splitting reaches the fluid bound when parts are free and rows cost alike', () => {
    // Two GPUs, one heavy head: McNaughton's wrap-around balances exactly.
    const problem = heavyHeadCase();
    const result = engines.auto.solveLayer(problem, options) as SplitLayerResult;
    assert.equal(result.splitHeads, 1);
    const atFluid = Math.abs(result.makespan - fluidBound(problem)) <= 1e-9 * result.makespan;
    assert.ok(atFluid, `makespan ${result.makespan} at the fluid bound 60`);
    // The owner keeps rows [0, 500) and one light head; the other GPU runs [500, 900) and two.
    assert.deepEqual(
      result.parts.map((p) => p.rows),
      [
        [0, 500],
        [500, 900],
      ],
    );
    assert.equal(result.parts[0].gpu, result.unit2gpu[0]);
    assert.equal(result.parts[1].gpu, 1 - result.unit2gpu[0]);
    assert.equal(result.status, 'optimal');
  });
});
