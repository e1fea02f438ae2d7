import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { frontierCaps } from '../../src/planner/frontier.ts';
import { assertProblem, assertSchema, SMALL_MODEL, startTestApp, type TestApp } from './helpers.ts';

describe('which KV caps a frontier tries', () => {
  const flagship = { queryHeads: 32, kvHeads: 8, granularity: 'query-head' as const };
  it('those that can bind, then none', () => {
    assert.deepEqual(frontierCaps({ ...flagship, gpus: 8, maxHeadsPerGpu: 4 }), [1, 1.25, 1.5, 2, 3, null]);
    // 2 GPUs of 16 heads: contiguous stores 8, a GPU at most 8 groups: 16 in all.
    assert.deepEqual(frontierCaps({ ...flagship, gpus: 2, maxHeadsPerGpu: 16 }), [1, 1.25, 1.5, null]);
    assert.deepEqual(frontierCaps({ ...flagship, gpus: 8, maxHeadsPerGpu: 4, granularity: 'kv-group' }), [null]);
    assert.deepEqual(
      frontierCaps({ queryHeads: 32, kvHeads: 32, granularity: 'query-head', gpus: 8, maxHeadsPerGpu: 4 }),
      [null],
    );
  });
});

describe('GET /v1/models/{modelId}/frontier', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 1);
  });
  after(() => t.close());

  it('answers one stored plan per cap, each within its cap, with the Pareto points marked', async () => {
    const res = await request(t.app).get(`/v1/models/${SMALL_MODEL}/frontier?gpus=8&engine=greedy`);
    assert.equal(res.status, 200);
    assertSchema('Frontier', res.body);
    const points = res.body.points as {
      maxKvCacheFactor: number | null;
      planId: string;
      kvCacheFactor: number;
      makespan: number;
      layersProven: number;
      layers: number;
      proven: boolean;
      pareto: boolean;
    }[];
    assert.deepEqual(
      points.map((p) => p.maxKvCacheFactor),
      [1, 1.25, 1.5, 2, 3, null],
    );
    assert.equal(res.body.timeLimitMsPerPoint, Math.floor(t.config.defaultTimeLimitMs / 6));
    for (const point of points) {
      if (point.maxKvCacheFactor !== null) assert.ok(point.kvCacheFactor <= point.maxKvCacheFactor + 1e-12);
      assert.equal(point.proven, point.layersProven === point.layers);
      const stored = await request(t.app).get(`/v1/plans/${point.planId}`);
      assert.equal(stored.status, 200, 'every point is a stored plan');
      assert.equal(stored.body.totals.kvCacheFactor, point.kvCacheFactor);
      assert.equal(stored.body.maxKvCacheFactor, point.maxKvCacheFactor);
    }
    assert.equal(points[0].kvCacheFactor, 1);
    assert.ok(points[0].pareto, 'the least KV cache is never beaten on KV');
    for (const p of points.filter((point) => !point.pareto))
      assert.ok(points.some((q) => q.kvCacheFactor <= p.kvCacheFactor && q.makespan <= p.makespan && q !== p));
    assert.ok(points.at(-1)!.makespan < points[0].makespan, 'more KV cache buys a faster plan');
  });

  it('has one point for KV-group units, which are stored once wherever they go', async () => {
    const res = await request(t.app).get(
      `/v1/models/${SMALL_MODEL}/frontier?gpus=4&granularity=kv-group&engine=greedy`,
    );
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.points.map((p: { maxKvCacheFactor: number | null; kvCacheFactor: number }) => [
        p.maxKvCacheFactor,
        p.kvCacheFactor,
      ]),
      [[null, 1]],
    );
  });

  it('refuses an unknown model, a bad mix and a KV cap (the frontier varies it), naming where', async () => {
    assertProblem(await request(t.app).get('/v1/models/no-such-model/frontier?gpus=8'), 404, 'UNKNOWN_MODEL');
    const mix = assertProblem(
      await request(t.app).get(`/v1/models/${SMALL_MODEL}/frontier?gpus=8&mix=decode:0:1`),
      422,
      'INVALID_PROBLEM',
    );
    assert.deepEqual([mix.pointer, mix.in], ['/mix', 'query']);
    const cap = assertProblem(
      await request(t.app).get(`/v1/models/${SMALL_MODEL}/frontier?gpus=8&maxKvCacheFactor=2`),
      400,
      'VALIDATION_FAILED',
    );
    assert.equal(cap.pointer, '/maxKvCacheFactor');
  });
});
