import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { assertProblem, assertSchema, startTestApp, type TestApp } from './helpers.ts';

describe('plans with split heads over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 1);
  });
  after(() => t.close());

  it('POST with constraints.splits answers a plan whose parts match the contract', async () => {
    const res = await request(t.app)
      .post('/v1/plans')
      .send({
        costs: [[90, 10, 10, 10]],
        gpus: { count: 2 },
        workload: { seqLen: 900 },
        // Each head is its own KV group: a part on a second GPU stores a second copy of it.
        constraints: { splits: { maxSplitHeads: 1, partOverhead: 0 }, maxKvCacheFactor: null },
      });
    assert.equal(res.status, 201);
    assertSchema('Plan', res.body);
    const layer = res.body.layers[0];
    // Either GPU may own head 0 (the two answers mirror each other): the owner runs rows [0, 500).
    const owner = layer.unit2gpu[0];
    assert.deepEqual(layer.parts, [
      { unit: 0, gpu: owner, rows: [0, 500], cost: 50 },
      { unit: 0, gpu: 1 - owner, rows: [500, 900], cost: 40 },
    ]);
    // The owner holds head 0 and one light head; the other GPU a part of head 0 and the other two.
    assert.equal(layer.gpu2units[owner].length, 2);
    assert.equal(layer.gpu2units[1 - owner].length, 3);
    assert.ok(layer.gpu2units.every((units: number[]) => units.includes(0)));
    assert.equal(layer.makespan, 60);
    assert.equal(res.body.totals.splitHeads, 1);
    assert.equal(res.body.totals.fluidBound, 60);
    // At the default cap (1.0) no copy fits: nothing is split, and the plan stores what contiguous does.
    const capped = await request(t.app)
      .post('/v1/plans')
      .send({
        costs: [[90, 10, 10, 10]],
        gpus: { count: 2 },
        workload: { seqLen: 900 },
        constraints: { splits: { maxSplitHeads: 1, partOverhead: 0 } },
      });
    assert.equal(capped.status, 201);
    assert.equal(capped.body.totals.splitHeads, 0);
    assert.equal(capped.body.totals.kvCacheFactor, 1);
    assert.equal(capped.body.layers[0].makespan, 100, 'two heads a GPU: 90 + 10 beside 10 + 10');
  });

  it('refuses a bad split limit with 400 naming the field, and decode with 422', async () => {
    const body = { costs: [[1, 2]], gpus: { count: 2 }, constraints: { splits: { maxPartsPerHead: 1 } } };
    const bad = await request(t.app).post('/v1/plans').send(body);
    const problem = assertProblem(bad, 400, 'VALIDATION_FAILED');
    assert.match(String(problem.pointer), /\/constraints\/splits\/maxPartsPerHead/);
    const decode = await request(t.app)
      .post('/v1/plans')
      .send({
        model: 'llama-3-8b-instruct-262k-minference',
        gpus: { count: 8 },
        workload: { phase: 'decode' },
        constraints: { splits: { maxSplitHeads: 2 } },
      });
    const unprocessable = assertProblem(decode, 422, 'INVALID_PROBLEM');
    assert.equal(unprocessable.pointer, '/constraints/splits/maxSplitHeads');
  });
});

describe('the per-model lookup with split heads', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 1);
  });
  after(() => t.close());

  it('splits heads when splitHeads is given, and caches it apart from the plan without', async () => {
    // Without a KV cap: a part brings its group's K/V onto another GPU.
    const url = '/v1/models/llama-3-8b-instruct-262k-minference/plan?gpus=4&maxKvCacheFactor=unlimited';
    const split = await request(t.app).get(`${url}&splitHeads=3`);
    assert.equal(split.status, 200);
    assertSchema('Plan', split.body);
    assert.deepEqual(split.body.splits, { maxSplitHeads: 3, maxPartsPerHead: 2, partOverhead: 64 * 2 * 128 });
    assert.ok(split.body.totals.splitHeads > 0);
    const whole = await request(t.app).get(url);
    assert.equal(whole.headers['x-cache'], 'miss');
    assert.equal(whole.body.splits, undefined);
    assert.ok(split.body.totals.makespan < whole.body.totals.makespan);
  });

  it('refuses splitHeads in decode, naming the query parameter', async () => {
    const url = '/v1/models/llama-3-8b-instruct-262k-minference/plan?gpus=4&phase=decode&splitHeads=1';
    const res = await request(t.app).get(url);
    const problem = assertProblem(res, 422, 'INVALID_PROBLEM');
    assert.equal(problem.pointer, '/splitHeads');
    assert.equal(problem.in, 'query');
  });
});
