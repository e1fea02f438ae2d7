import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANALYTIC_COST_MODEL, createExecutedWorkCostModel } from '../../src/cost/cost-model.ts';
import { fixedHeadCost, headRowWork } from '../../src/cost/row-range.ts';
import { rowRangeWork } from '../../src/cost/work.ts';
import type { HeadBudget } from '../../src/profiles/profile.ts';

const budgets: HeadBudget[] = [
  { kind: 'vertical_slash', vertical: 100, slash: 900 },
  { kind: 'streaming', sink: 4, recent: 60 },
  { kind: 'full' },
];

describe('work of a range of query rows', () => {
  it("is the kernel's executed pairs of those rows, and sums over any cut to the whole head's", () => {
    for (const seqLen of [1, 64, 1000, 4097, 10_000]) {
      for (const budget of budgets) {
        const workload = { seqLen, phase: 'prefill' as const };
        const whole = rowRangeWork(budget, workload, 0, seqLen).estimate.executedPairs;
        assert.ok(Math.abs(headRowWork(budget, seqLen, 0, seqLen) - whole) <= 1e-9 * whole);
        const cuts = [0, Math.floor(seqLen / 3), Math.floor(seqLen / 2), seqLen].filter(
          (c, i, all) => i === 0 || c > all[i - 1],
        );
        const parts = cuts.slice(1).map((end, i) => headRowWork(budget, seqLen, cuts[i], end));
        assert.ok(Math.abs(parts.reduce((a, b) => a + b, 0) - whole) <= 1e-9 * whole);
        for (let i = 1; i < cuts.length; i++) {
          const direct = rowRangeWork(budget, workload, cuts[i - 1], cuts[i]).estimate.executedPairs;
          const agrees = Math.abs(parts[i - 1] - direct) <= 1e-9 * Math.max(1, direct);
          assert.ok(agrees, 'the chunk table agrees with a direct count');
        }
      }
    }
  });

  it('charges later rows more under causal attention', () => {
    const full: HeadBudget = { kind: 'full' };
    assert.ok(headRowWork(full, 8192, 8191, 8192) > headRowWork(full, 8192, 0, 1));
    assert.ok(headRowWork(full, 8192, 4096, 8192) > 2 * headRowWork(full, 8192, 0, 4096));
  });

  it('counts rows alike when the pattern is unknown', () => {
    assert.equal(headRowWork(null, 1000, 10, 250), 240);
  });

  it("takes a head's fixed cost as the cost of a one-row head: next to nothing for work counts", () => {
    const workload = { seqLen: 131072, phase: 'prefill' as const };
    assert.equal(fixedHeadCost(ANALYTIC_COST_MODEL, workload), 1);
    const work = createExecutedWorkCostModel();
    assert.equal(fixedHeadCost(work, workload), 2 * 128 * 64, 'one 64-key tile of one row at d = 128');
    const smallest = work.headCost({ kind: 'streaming', sink: 4, recent: 60 }, workload);
    assert.ok(fixedHeadCost(work, workload) < 1e-4 * smallest);
  });
});
