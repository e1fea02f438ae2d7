import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createAutoEngine } from '../../src/solver/engines/auto.ts';
import { configSearchEngine } from '../../src/solver/engines/config-search.ts';
import { greedyEngine } from '../../src/solver/engines/greedy.ts';
import { createIlpEngine } from '../../src/solver/engines/ilp.ts';
import { layerLowerBound } from '../../src/solver/bounds.ts';
import { relativeGap } from '../../src/solver/layer-result.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';
import { assertValidLayerResult, distinctCosts } from './helpers.ts';

const glpk = await loadGlpk();
const hard = buildLayerProblems({ headCosts: [distinctCosts(64, 7)], kvGroupSize: 1, granularity: 'query-head', speeds: new Array(8).fill(1), unitsPerGpu: { kind: 'equal' } })[0];

describe('status honesty under a tight time limit', () => {
  for (const engine of [createAutoEngine(glpk), createIlpEngine(glpk), configSearchEngine]) {
    it(`${engine.name} with 5 ms on 64 distinct costs claims nothing it has not proven`, () => {
      const greedy = greedyEngine.solveLayer(hard, { timeLimitMs: 5, gapTolerance: 1e-9 });
      const result = engine.solveLayer(hard, { timeLimitMs: 5, gapTolerance: 1e-6, incumbent: greedy.unit2gpu });
      assertValidLayerResult(hard, result);
      assert.ok(result.makespan <= greedy.makespan, 'never worse than the incumbent');
      assert.ok(result.lowerBound >= layerLowerBound(hard) - 1e-9, 'bound at least the static bound');
      assert.equal(result.gap, relativeGap(result.makespan, result.lowerBound));
      if (result.status === 'optimal') assert.ok(result.gap <= 1e-9);
      if (result.status === 'within_tolerance') assert.ok(result.gap <= 1e-6 * (1 + 1e-9));
      if (result.gap > 1e-6 * (1 + 1e-9)) assert.ok(['time_limit', 'greedy_fallback'].includes(result.status), `status ${result.status} with gap ${result.gap}`);
    });
  }
});
