import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANALYTIC_COST_MODEL, attendedPairs, attendedTokens } from '../../src/cost/cost-model.ts';
import { createCalibratedCostModel, type Calibration } from '../../src/cost/calibrated.ts';
import { loadCalibration, listCalibrations } from '../../src/cost/registry.ts';
import { fixedHeadCost, headRowWork } from '../../src/cost/row-range.ts';
import type { HeadBudget } from '../../src/profiles/profile.ts';

const budgets: HeadBudget[] = [
  { kind: 'vertical_slash', vertical: 100, slash: 900 },
  { kind: 'streaming', sink: 4, recent: 60 },
  { kind: 'full' },
];

describe('work of a range of query rows', () => {
  it('sums over any cut of the rows to the head\'s attended pairs', () => {
    for (const seqLen of [1, 64, 1000, 4097]) {
      for (const budget of budgets) {
        const whole = attendedPairs(attendedTokens(budget, seqLen), { seqLen, phase: 'prefill' });
        assert.equal(headRowWork(budget, seqLen, 0, seqLen), whole);
        const cuts = [0, Math.floor(seqLen / 3), Math.floor(seqLen / 2), seqLen];
        const parts = cuts.slice(1).map((end, i) => headRowWork(budget, seqLen, cuts[i], end));
        assert.equal(parts.reduce((a, b) => a + b, 0), whole);
      }
    }
  });

  it('charges later rows more under a causal budget (row r attends min(r, b) keys)', () => {
    const budget: HeadBudget = { kind: 'streaming', sink: 0, recent: 10 };
    assert.equal(headRowWork(budget, 100, 0, 1), 1);
    assert.equal(headRowWork(budget, 100, 9, 10), 10);
    assert.equal(headRowWork(budget, 100, 50, 51), 10);
    assert.equal(headRowWork({ kind: 'full' }, 100, 99, 100), 100);
  });

  it('counts rows alike when the pattern is unknown', () => {
    assert.equal(headRowWork(null, 1000, 10, 250), 240);
  });

  it('takes a head\'s fixed cost from the cost model: 0 analytic, the intercept of a calibration', () => {
    const workload = { seqLen: 131072, phase: 'prefill' as const };
    assert.equal(fixedHeadCost(ANALYTIC_COST_MODEL, workload), 0);
    for (const name of listCalibrations()) {
      const calibration: Calibration = loadCalibration(name);
      const intercept = calibration.model.coefficients[calibration.model.features.indexOf('intercept')];
      const fixed = fixedHeadCost(createCalibratedCostModel(calibration), workload);
      assert.ok(Math.abs(fixed - intercept) <= 1e-9 * Math.abs(intercept));
    }
  });
});
