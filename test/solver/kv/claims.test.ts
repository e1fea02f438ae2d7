import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadGlpk } from '../../../src/planner/glpk.ts';
import { layerLowerBound } from '../../../src/solver/bounds.ts';
import { contiguousEngine } from '../../../src/solver/engines/contiguous.ts';
import { configSearchEngine } from '../../../src/solver/engines/config-search.ts';
import { greedyEngine } from '../../../src/solver/engines/greedy.ts';
import { createIlpEngine } from '../../../src/solver/engines/ilp.ts';
import { createEngines } from '../../../src/solver/engines/index.ts';
import {
  copiesFluidBound,
  largestWithGroupBound,
  sharedGroupCostBound,
  singleGroupBound,
} from '../../../src/solver/kv/bounds.ts';
import { minStoredKvHeads } from '../../../src/solver/kv/min-stored.ts';
import { constraintViolation } from '../../../src/solver/layer-result.ts';
import type { LayerEngine, LayerProblem, LayerResult } from '../../../src/solver/types.ts';
import { FAST_CHECK_SEED } from '../helpers.ts';
import { type KvTruth, arbitraryKvSpec, kvProblemOf, kvTruth } from '../kv-helpers.ts';

const glpk = await loadGlpk();
const engines = createEngines(glpk);
// A clock that stands still: every step runs to its end, so what is asserted does not depend on the load.
const options = { timeLimitMs: 2000, gapTolerance: 1e-6, now: () => 0 };

/** Every claim of a result against the truth: feasibility, loads, bound, status and the KV fields. */
function assertKvClaims(problem: LayerProblem, result: LayerResult, truth: KvTruth): void {
  const what = `${result.engine}: ${result.status} ${result.makespan} (bound ${result.lowerBound}, optimum ${truth.optimum})`;
  assert.equal(constraintViolation(problem, result.unit2gpu), null, `feasible (${what})`);
  assert.ok(result.makespan >= truth.optimum * (1 - 1e-12), `makespan below the optimum (${what})`);
  assert.ok(result.lowerBound <= truth.optimum * (1 + 1e-12), `bound above the optimum (${what})`);
  if (result.status === 'optimal' || result.status === 'trivial')
    assert.ok(result.makespan <= truth.optimum * (1 + 2e-9), `false optimal (${what})`);
  if (result.status === 'within_tolerance')
    assert.ok(result.makespan * (1 - 1e-6 * (1 + 1e-9)) <= truth.optimum * (1 + 1e-12), `false tolerance (${what})`);
  if (!problem.phases) assert.ok(Math.max(...result.gpuLoads) <= result.makespan * (1 + 1e-12));
  if (!problem.unit2group) {
    assert.equal(result.kvHeadsStored, undefined, 'no KV fields where the layer does not know its groups');
    return;
  }
  const within = truth.fewestStoredWithin(result.makespan * (1 + 1e-12));
  assert.ok(result.kvHeadsStored !== undefined && result.kvLowerBound !== undefined, 'KV fields present');
  assert.equal(
    result.kvHeadsStored,
    result.kvHeadsPerGpu?.reduce((a, b) => a + b, 0),
  );
  assert.ok(result.kvLowerBound <= within, `KV bound ${result.kvLowerBound} above ${within} (${what})`);
  if (result.kvStatus === 'optimal')
    assert.equal(result.kvHeadsStored, within, `false KV optimal: ${result.kvHeadsStored} vs ${within} (${what})`);
}

const ENGINES: [string, LayerEngine, boolean][] = [
  ['auto', engines.auto, true],
  ['ilp', engines.ilp, true],
  ['search', configSearchEngine, true],
  ['ilp (textbook asked)', createIlpEngine(glpk, 'textbook'), true],
  ['greedy', greedyEngine, false],
  ['contiguous', contiguousEngine, false],
];

describe('KV layers against brute force', () => {
  it('every KV bound and the static bound stay at or below the optimum; the fewest KV heads bound holds', () => {
    fc.assert(
      fc.property(arbitraryKvSpec(), (spec) => {
        const problem = kvProblemOf(spec);
        if (!problem) return;
        const truth = kvTruth(problem);
        if (!truth) return;
        assert.ok(minStoredKvHeads(problem) <= truth.fewestStored, 'fewest KV heads bound');
        const bounds = {
          layerLowerBound,
          copiesFluidBound,
          largestWithGroupBound,
          sharedGroupCostBound,
          singleGroupBound,
        };
        for (const [name, bound] of Object.entries(bounds)) {
          if (problem.phases && name !== 'layerLowerBound') continue;
          const value = bound(problem);
          assert.ok(value <= truth.optimum * (1 + 1e-12), `${name} ${value} above the optimum ${truth.optimum}`);
        }
      }),
      { numRuns: 250, seed: FAST_CHECK_SEED },
    );
  });

  it('the fewest KV heads is exact without pins and group limits (groups of equal size)', () => {
    fc.assert(
      fc.property(arbitraryKvSpec(), (spec) => {
        const problem = kvProblemOf({ ...spec, pins: undefined, maxKvGroupsPerGpu: undefined });
        if (!problem?.unit2group) return;
        const truth = kvTruth({ ...problem, maxStoredGroups: undefined });
        if (truth) assert.equal(minStoredKvHeads(problem), truth.fewestStored);
      }),
      { numRuns: 150, seed: FAST_CHECK_SEED },
    );
  });
});

describe('every engine on KV layers against brute force', () => {
  for (const [name, engine, exact] of ENGINES) {
    it(`${name}: its claims hold${exact ? ' and it reaches the optimum' : ''}`, () => {
      fc.assert(
        fc.property(arbitraryKvSpec(), (spec) => {
          const problem = kvProblemOf(spec);
          if (!problem) return;
          const truth = kvTruth(problem);
          if (!truth) return;
          let result: LayerResult;
          try {
            result = engine.solveLayer(problem, options);
          } catch (error) {
            // Heuristics may refuse with a typed infeasibility (a trapped order, a broken constraint).
            if (!exact && error instanceof Error && error.name === 'HplbError') return;
            throw error;
          }
          assertKvClaims(problem, result, truth);
          // The search decides a mix on its combined loads: exact for one phase only.
          if (exact && !(name === 'search' && problem.phases)) {
            assert.ok(
              result.makespan <= truth.optimum * (1 + 1e-6),
              `${name} misses the optimum ${truth.optimum}: ${result.makespan}`,
            );
            assert.notEqual(result.status, 'time_limit');
          }
        }),
        { numRuns: exact ? 120 : 200, seed: FAST_CHECK_SEED },
      );
    });
  }

  it('auto is never worse than greedy and proves the fewest KV heads of its makespan', () => {
    fc.assert(
      fc.property(arbitraryKvSpec(), (spec) => {
        const problem = kvProblemOf(spec);
        if (!problem) return;
        const truth = kvTruth(problem);
        if (!truth) return;
        let greedy: LayerResult;
        try {
          greedy = greedyEngine.solveLayer(problem, options);
        } catch {
          return;
        }
        const result = engines.auto.solveLayer(problem, { ...options, incumbent: greedy.unit2gpu });
        assert.ok(result.makespan <= greedy.makespan * (1 + 1e-12));
        if (!problem.unit2group) return;
        // A KV-group limit alone is solved as before, without the second objective's search.
        if (!problem.phases && (problem.maxStoredGroups !== undefined || problem.groupCosts))
          assert.equal(result.kvStatus, 'optimal', 'one phase: the search proves the fewest KV heads');
        if (result.kvStatus === 'optimal')
          assert.equal(result.kvHeadsStored, truth.fewestStoredWithin(result.makespan * (1 + 1e-12)));
      }),
      { numRuns: 120, seed: FAST_CHECK_SEED },
    );
  });
});
