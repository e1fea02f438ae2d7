import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadGlpk } from '../../../src/planner/glpk.ts';
import { createRandom } from '../../../src/random.ts';
import { createEngines } from '../../../src/solver/engines/index.ts';
import { constraintViolation } from '../../../src/solver/layer-result.ts';
import { buildLayerProblems, type ProblemSpec } from '../../../src/solver/problem.ts';
import { independentMilpBeats } from './held-out.ts';

const glpk = await loadGlpk();
const engines = createEngines(glpk);

/**
 * 8 KV groups of `groupSize` query heads with few distinct costs, each copy a third of a heavy
 * head, at the default cap.
 */
function flagshipLike(gpus: number, seed: number, groupSize: number): ProblemSpec {
  const random = createRandom(seed);
  const costs = Array.from({ length: 8 * groupSize }, () => [318, 46, 48, 88][Math.floor(random() * 4)]);
  return {
    headCosts: [costs],
    kvGroupSize: groupSize,
    granularity: 'query-head',
    speeds: new Array<number>(gpus).fill(1),
    unitsPerGpu: { kind: 'equal' },
    groupCosts: [new Array<number>(8).fill(106)],
    maxKvCacheFactor: 1,
  };
}

describe('exact reductions at the least KV-cache cap', () => {
  const cases = [
    // Groups of 2 at G = 4 (two groups per GPU, as the flagship's groups of 4 are): the independent
    // integer program over configurations of 8 heads per GPU took over a minute on 2 loaded cores,
    // of 4 heads under a second.
    { gpus: 4, groupSize: 2, engine: 'whole-groups', why: 'one copy per group: every group whole on one GPU' },
    { gpus: 8, groupSize: 4, engine: 'whole-groups', why: 'one group per GPU, whole' },
    { gpus: 16, groupSize: 4, engine: 'group-per-gpu', why: 'G > KV heads: every GPU stores exactly one group' },
  ];
  for (const c of cases) {
    it(`G=${c.gpus}: ${c.why}; proven optimal, and no placement beats it`, () => {
      for (const seed of [1, 2, 3]) {
        const problem = buildLayerProblems(flagshipLike(c.gpus, seed, c.groupSize))[0];
        const result = engines.auto.solveLayer(problem, { timeLimitMs: 5000, gapTolerance: 1e-6 });
        assert.equal(constraintViolation(problem, result.unit2gpu), null);
        assert.equal(result.kvHeadsStored, problem.maxStoredGroups, 'the least copies');
        assert.equal(result.kvStatus, 'optimal');
        assert.ok(['optimal', 'within_tolerance'].includes(result.status), result.status);
        // The reduction answers unless greedy already met the bound.
        if (result.engine !== 'greedy') assert.equal(result.engine, c.engine);
        assert.equal(independentMilpBeats(glpk, problem, result.makespan * (1 - 1e-5), 60_000), false);
      }
    });
  }
});
