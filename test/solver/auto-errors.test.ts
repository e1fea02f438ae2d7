import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createAutoEngine } from '../../src/solver/engines/auto.ts';
import { tryGreedyAssignment } from '../../src/solver/engines/greedy.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';
import { assertValidLayerResult } from './helpers.ts';

const auto = createAutoEngine(await loadGlpk());
// Greedy is trapped (the pin and the KV-group limit leave its last head nowhere to go) and the
// contiguous placement breaks the pin, so auto starts without any placement.
const trapped = buildLayerProblems({
  headCosts: [[10, 8, 9, 1, 7, 1, 6, 1]],
  kvGroupSize: 2,
  granularity: 'query-head',
  speeds: [1, 1],
  unitsPerGpu: { kind: 'equal' },
  maxKvGroupsPerGpu: 2,
  pins: [{ unit: 0, gpu: 1 }],
})[0];

describe('auto engine errors', () => {
  it('places a layer greedy cannot place', () => {
    assert.equal(tryGreedyAssignment(trapped), null);
    const result = auto.solveLayer(trapped, { timeLimitMs: 2000, gapTolerance: 1e-4 });
    assertValidLayerResult(trapped, result);
    assert.equal(result.makespan, 25);
    assert.equal(result.fallbackReason, undefined);
  });

  it('lets a bug inside the search propagate instead of turning it into a fallback reason', () => {
    let calls = 0;
    // The third look at the clock is the search's own: the error is thrown inside it.
    const now = () => {
      if (++calls === 3) throw new TypeError('clock failed');
      return 0;
    };
    assert.throws(() => auto.solveLayer(trapped, { timeLimitMs: 2000, gapTolerance: 1e-4, now }), TypeError);
  });
});
