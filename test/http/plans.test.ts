import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import {
  SMALL_MODEL,
  assertProblem,
  assertSchema,
  holdRunner,
  metricValue,
  startTestApp,
  untilMetric,
  tinyRequest,
  type HeldRunner,
  type TestApp,
} from './helpers.ts';

describe('plans over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ MAX_TIME_LIMIT_MS: '5000' }, 2);
  });
  after(() => t.close());

  it('POST answers 201 with the plan and its Location, then 200 for the same request', async () => {
    const first = await request(t.app).post('/v1/plans').send(tinyRequest());
    assert.equal(first.status, 201);
    assertSchema('Plan', first.body);
    assert.equal(first.headers.location, `/v1/plans/${first.body.id}`);
    assert.match(first.headers.etag, /^"[\w-]+"$/);
    assert.equal(first.body.model.id, null);
    assert.equal(first.body.costModel.name, 'explicit');
    assert.equal(first.body.layers.length, 2);

    // Same content, keys in another order: same id, already stored.
    const again = await request(t.app)
      .post('/v1/plans')
      .send({
        gpus: { count: 2 },
        costs: [
          [4, 3, 2, 1],
          [1, 1, 1, 5],
        ],
      });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.headers.location, first.headers.location);
  });

  it('gives different requests different ids', async () => {
    const a = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ constraints: { unitsPerGpu: 'free' } }));
    const b = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ gpus: { count: 2, speeds: [1, 0.5] }, constraints: { unitsPerGpu: 'free' } }));
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.body.id, b.body.id);
    assert.deepEqual(b.body.gpus.speeds, [1, 0.5]);
  });

  it('GET /v1/plans/{id} serves the stored plan with an ETag, and 304 for If-None-Match', async () => {
    const created = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ granularity: 'kv-group', kvGroupSize: 2 }));
    const got = await request(t.app).get(created.headers.location);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, created.body);
    assert.equal(got.headers.etag, created.headers.etag);
    assert.match(got.headers['cache-control'], /^public, max-age=\d+$/);
    const cached = await request(t.app).get(created.headers.location).set('If-None-Match', got.headers.etag);
    assert.equal(cached.status, 304);
    assert.equal(cached.text, '');
    const stale = await request(t.app).get(created.headers.location).set('If-None-Match', '"something-else"');
    assert.equal(stale.status, 200);
  });

  it('GET /v1/plans/{id} of an unknown plan is a 404 problem', async () => {
    const res = await request(t.app).get(`/v1/plans/${'0'.repeat(32)}`);
    const problem = assertProblem(res, 404, 'PLAN_NOT_FOUND');
    assert.equal(problem.pointer, '/planId');
    assert.equal(problem.in, 'path');
  });

  it('plans a registry model and an inline profile alike', async () => {
    // Greedy: its answer depends on the costs alone, never on how far a time-limited search got.
    const byId = await request(t.app)
      .post('/v1/plans')
      .send({ model: SMALL_MODEL, gpus: { count: 4 }, granularity: 'kv-group', solver: { engine: 'greedy' } });
    assert.equal(byId.status, 201);
    assertSchema('Plan', byId.body);
    assert.equal(byId.body.model.id, SMALL_MODEL);
    assert.equal(byId.body.layers.length, 32);
    assert.equal(byId.body.layers[0].unit2gpu.length, 8);

    const profile = JSON.parse(readFileSync(new URL(`../../models/${SMALL_MODEL}.json`, import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(byId.body.model.version, profile.version);
    const inline = await request(t.app)
      .post('/v1/plans')
      .send({ profile, gpus: { count: 4 }, granularity: 'kv-group', solver: { engine: 'greedy' } });
    assert.equal(inline.status, 201);
    assert.equal(inline.body.model.id, SMALL_MODEL);
    assert.deepEqual(
      inline.body.layers,
      byId.body.layers.map((l: Record<string, unknown>, i: number) => ({
        ...l,
        solveMs: inline.body.layers[i].solveMs,
      })),
    );
  });

  it('the per-model lookup computes on a miss, then serves hits with ETag, Cache-Control and 304', async () => {
    const url = `/v1/models/${SMALL_MODEL}/plan?gpus=4&granularity=kv-group&seqLen=65536&phase=prefill`;
    const miss = await request(t.app).get(url);
    assert.equal(miss.status, 200);
    assert.equal(miss.headers['x-cache'], 'miss');
    assertSchema('Plan', miss.body);
    assert.equal(miss.body.workload.seqLen, 65536);
    assert.match(miss.headers['cache-control'], /^public, max-age=\d+$/);

    const hit = await request(t.app).get(url);
    assert.equal(hit.status, 200);
    assert.equal(hit.headers['x-cache'], 'hit');
    assert.equal(hit.text, miss.text);
    assert.equal(hit.headers.etag, miss.headers.etag);

    // Parameters in another order, defaults spelled out: the same lookup.
    const same = await request(t.app).get(
      `/v1/models/${SMALL_MODEL}/plan?phase=prefill&seqLen=65536&gpus=4&granularity=kv-group&unitsPerGpu=equal&engine=auto`,
    );
    assert.equal(same.headers['x-cache'], 'hit');

    const notModified = await request(t.app).get(url).set('If-None-Match', miss.headers.etag);
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers['x-cache'], 'hit');

    const byId = await request(t.app).get(`/v1/plans/${miss.body.id}`);
    assert.equal(byId.status, 200);
    assert.equal(byId.text, miss.text);

    const metrics = (await request(t.app).get('/metrics')).text;
    assert.ok(metricValue(metrics, 'hplb_plan_cache_hits_total', { cache: 'lookups' }) >= 3);
    assert.ok(metricValue(metrics, 'hplb_plan_cache_misses_total', { cache: 'lookups' }) >= 1);
  });

  it('a lookup for a plan first made by POST is a miss that solves nothing', async () => {
    const before = (await request(t.app).get('/metrics')).text;
    const posted = await request(t.app)
      .post('/v1/plans')
      .send({ model: SMALL_MODEL, gpus: { count: 2 }, granularity: 'kv-group', solver: { timeLimitMs: 3000 } });
    const looked = await request(t.app).get(`/v1/models/${SMALL_MODEL}/plan?gpus=2&granularity=kv-group`);
    assert.equal(looked.headers['x-cache'], 'miss');
    assert.equal(looked.body.id, posted.body.id);
    const after = (await request(t.app).get('/metrics')).text;
    const solves = (text: string): number => metricValue(text, 'hplb_plan_solves_total');
    assert.equal(solves(after) - solves(before), 1);
  });

  it('clamps a time limit above MAX_TIME_LIMIT_MS and says so', async () => {
    const res = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ solver: { timeLimitMs: 999_999, engine: 'greedy' } }));
    assert.equal(res.status, 201);
    assert.equal(res.headers['x-time-limit-clamped'], '5000');
    assert.equal(res.body.solver.timeLimitMs, 5000);
    const within = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ solver: { timeLimitMs: 4000, engine: 'greedy' } }));
    assert.equal(within.headers['x-time-limit-clamped'], undefined);
    assert.equal(within.body.solver.timeLimitMs, 4000);
  });

  it('counts solves by engine and status, and layers by status', async () => {
    await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ solver: { engine: 'contiguous' } }));
    const text = (await request(t.app).get('/metrics')).text;
    assert.ok(metricValue(text, 'hplb_plan_solves_total', { engine: 'contiguous' }) >= 1);
    assert.ok(metricValue(text, 'hplb_plan_layers_total') >= 2);
    assert.ok(metricValue(text, 'hplb_plan_solve_duration_seconds_count', { engine: 'contiguous' }) >= 1);
  });
});

describe('identical plans requested at once', () => {
  let t: TestApp;
  let held: HeldRunner;
  before(async () => {
    t = await startTestApp({}, 1, null, (pool) => (held = holdRunner(pool)));
  });
  after(() => t.close());

  it('coalesces two concurrent identical POSTs into one solve', async () => {
    const body = tinyRequest({ solver: { engine: 'ilp' } });
    const metrics = async (): Promise<string> => (await request(t.app).get('/metrics')).text;
    const a = request(t.app)
      .post('/v1/plans')
      .send(body)
      .then((r) => r);
    await held.arrived;
    const b = request(t.app)
      .post('/v1/plans')
      .send(body)
      .then((r) => r);
    // The second request joins the first's solve, which the gate holds.
    await untilMetric(t.app, 'hplb_plan_coalesced_total', 1);
    held.release();
    const [first, second] = await Promise.all([a, b]);
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(first.body.id, second.body.id);
    assert.equal(first.text, second.text);
    const text = await metrics();
    assert.equal(metricValue(text, 'hplb_plan_solves_total', { engine: 'ilp' }), 1);
    assert.equal(metricValue(text, 'hplb_plan_coalesced_total'), 1);
  });
});
