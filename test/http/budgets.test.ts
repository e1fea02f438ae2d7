import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { assertSchema, startTestApp, type TestApp } from './helpers.ts';

describe('POST /v1/budgets', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('answers the smallest budget per head reaching the target, with costs and the saving', async () => {
    const res = await request(t.app)
      .post('/v1/budgets')
      .send({
        target: 0.95,
        interpolation: 'step',
        workload: { seqLen: 8192, phase: 'prefill' },
        curves: [
          {
            layer: 0,
            head: 0,
            points: [
              { budget: 256, recovery: 0.8 },
              { budget: 1024, recovery: 0.97 },
            ],
          },
          { layer: 0, head: 1, points: [{ budget: 256, recovery: 0.96 }] },
        ],
      });
    assert.equal(res.status, 200);
    assertSchema('BudgetsResponse', res.body);
    assert.deepEqual(
      res.body.heads.map((h: { budget: number }) => h.budget),
      [1024, 256],
    );
    assert.equal(res.body.uniform.budget, 1024);
    assert.ok(res.body.totals.saving > 0 && res.body.totals.saving < 1);
  });
});
