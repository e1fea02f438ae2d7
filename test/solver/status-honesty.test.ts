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
import type { LayerEngine } from '../../src/solver/types.ts';
import { distinctCosts } from '../../src/kernel/synthetic.ts';
import { assertValidLayerResult } from './helpers.ts';

const glpk = await loadGlpk();
const hard = buildLayerProblems({
  headCosts: [distinctCosts(64, 7)],
  kvGroupSize: 1,
  granularity: 'query-head',
  speeds: new Array(8).fill(1),
  unitsPerGpu: { kind: 'equal' },
})[0];

/**
 * A clock that moves 1 ms on every reading: an engine that reads it keeps running out of time
 * after a fixed amount of work, however busy the machine is.
 */
function tickingClock(): () => number {
  let ms = 0;
  return () => ms++;
}

/** Solves `hard` with a 5 ms limit and greedy's answer as the incumbent, and checks the claims. */
function solveAndCheckHonesty(engine: LayerEngine, now?: () => number) {
  const greedy = greedyEngine.solveLayer(hard, { timeLimitMs: 5, gapTolerance: 1e-9 });
  const result = engine.solveLayer(hard, {
    timeLimitMs: 5,
    gapTolerance: 1e-6,
    incumbent: greedy.unit2gpu,
    ...(now ? { now } : {}),
  });
  assertValidLayerResult(hard, result);
  assert.ok(result.makespan <= greedy.makespan, 'never worse than the incumbent');
  assert.ok(result.lowerBound >= layerLowerBound(hard) - 1e-9, 'bound at least the static bound');
  assert.equal(result.gap, relativeGap(result.makespan, result.lowerBound));
  if (result.status === 'optimal') assert.ok(result.gap <= 1e-9);
  if (result.status === 'within_tolerance') assert.ok(result.gap <= 1e-6 * (1 + 1e-9));
  if (result.gap > 1e-6 * (1 + 1e-9))
    assert.ok(
      ['time_limit', 'greedy_fallback'].includes(result.status),
      `status ${result.status} with gap ${result.gap}`,
    );
  return result;
}

// How long a limit takes in wall-clock time on a given machine is reported by `npm run bench:solver`,
// not asserted here.
describe('status honesty under a tight time limit', () => {
  for (const engine of [createAutoEngine(glpk), createIlpEngine(glpk), configSearchEngine]) {
    it(`${engine.name} with 5 ms on 64 distinct costs claims nothing it has not proven`, () => {
      solveAndCheckHonesty(engine);
    });
  }

  for (const engine of [createAutoEngine(glpk), configSearchEngine]) {
    it(`${engine.name} stops when the injected clock passes the limit and says time_limit with a true gap`, () => {
      const result = solveAndCheckHonesty(engine, tickingClock());
      assert.equal(result.status, 'time_limit');
      assert.ok(result.gap > 1e-6, `the search was cut short, so the gap ${result.gap} stays open`);
    });
  }
});
