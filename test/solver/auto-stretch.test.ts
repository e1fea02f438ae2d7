import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createAutoEngine, GLPK_STRETCH, nextGlpkStretch } from '../../src/solver/engines/auto.ts';
import { ilpStep, startPortfolio } from '../../src/solver/engines/portfolio.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';

const glpk = await loadGlpk();

describe("GLPK's stretch is an input of auto", () => {
  // A layer the configuration search leaves to GLPK: many classes under a tight clock.
  const problem = buildLayerProblems({
    headCosts: [Array.from({ length: 24 }, (_, h) => 100 + ((h * 37) % 23) * 7)],
    kvGroupSize: 1,
    granularity: 'query-head',
    speeds: [1, 1, 1, 1],
    unitsPerGpu: { kind: 'free' },
  })[0];

  it('equal inputs give equal answers, run after run on one engine', () => {
    const auto = createAutoEngine(glpk);
    // A clock that stands still: every step runs to its end, whatever the load.
    const options = { timeLimitMs: 1000, gapTolerance: 1e-4, now: () => 0 };
    const first = auto.solveLayer(problem, options);
    for (let run = 0; run < 3; run++) {
      const again = auto.solveLayer(problem, options);
      assert.deepEqual(
        [again.unit2gpu, again.lowerBound, again.status],
        [first.unit2gpu, first.lowerBound, first.status],
      );
    }
  });

  it('the caller keeps the estimate: GLPK gets the time left over the stretch given, and each run is reported', () => {
    assert.equal(nextGlpkStretch(GLPK_STRETCH, 100, 100), Math.max(1, 0.5 * GLPK_STRETCH + 0.5));
    assert.equal(nextGlpkStretch(1, 100, 50), 1, 'never below 1');
    const runs: [number, number][] = [];
    const clock = { t: 0 };
    const portfolio = startPortfolio(problem, {
      timeLimitMs: 1000,
      gapTolerance: 1e-9,
      now: () => clock.t,
      glpkStretch: 4,
      onGlpkRun: (given, took) => runs.push([given, took]),
    });
    ilpStep(glpk, portfolio, portfolio.deadline);
    assert.deepEqual(runs, [[250, 0]], 'a quarter of the 1000 ms left, on a clock that stood still');
  });
});
