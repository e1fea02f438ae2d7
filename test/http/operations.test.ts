import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { parse } from 'yaml';
import { assertProblem, assertSchema, metricValue, startTestApp, tinyRequest, type TestApp } from './helpers.ts';

describe('probes, metrics, contract, request ids and logs', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('/livez and its alias /healthz answer ok', async () => {
    for (const path of ['/livez', '/healthz']) {
      const res = await request(t.app).get(path);
      assert.equal(res.status, 200);
      assertSchema('Liveness', res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
    }
  });

  it('/readyz is ready once the workers and the registry are up', async () => {
    const res = await request(t.app).get('/readyz');
    assert.equal(res.status, 200);
    assertSchema('Readiness', res.body);
    assert.deepEqual(res.body, {
      status: 'ready',
      checks: { registry: true, store: 'ok', solver: true, draining: false },
    });
  });

  it('/openapi.yaml serves the contract', async () => {
    const res = await request(t.app).get('/openapi.yaml');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/yaml/);
    assert.match((parse(res.text) as { openapi: string }).openapi, /^3\.1/);
  });

  it('/metrics exposes request, cache, solve, queue and event-loop metrics under Prometheus names', async () => {
    await request(t.app).post('/v1/plans').send(tinyRequest());
    const res = await request(t.app).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/plain/);
    for (const name of [
      'hplb_http_requests_total',
      'hplb_http_request_duration_seconds_bucket',
      'hplb_plan_cache_hits_total',
      'hplb_plan_cache_misses_total',
      'hplb_plan_cache_evictions_total',
      'hplb_plan_solves_total',
      'hplb_plan_solve_duration_seconds_bucket',
      'hplb_plan_queue_depth',
      'hplb_plans_in_flight',
      'hplb_solver_queue_depth',
      'hplb_solver_workers_busy',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.match(res.text, new RegExp(`^# TYPE ${name.replace(/_bucket$/, '')} `, 'm'), name);
    }
    assert.equal(
      metricValue(res.text, 'hplb_http_requests_total', { method: 'POST', route: '/v1/plans', status: '201' }),
      1,
    );
    // Every metric name follows the Prometheus rules: snake case, counters end in _total, units as suffixes.
    for (const [, name, type] of res.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      assert.match(name, /^[a-z_][a-z0-9_]*$/);
      if (type === 'counter') assert.match(name, /_total$/, name);
    }
  });

  it('echoes a well-formed X-Request-Id and makes one up otherwise', async () => {
    const given = await request(t.app).get('/livez').set('X-Request-Id', 'trace-123.abc');
    assert.equal(given.headers['x-request-id'], 'trace-123.abc');
    const bad = await request(t.app).get('/livez').set('X-Request-Id', 'has spaces and {braces}');
    assert.match(bad.headers['x-request-id'], /^[0-9a-f-]{36}$/);
    const none = await request(t.app).get('/livez');
    assert.match(none.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  });

  it('logs one JSON line per request with its id, and never a body', async () => {
    const secret = 'S3CRET-SHOULD-NOT-BE-LOGGED';
    const res = await request(t.app)
      .post('/v1/plans')
      .set('X-Request-Id', 'log-test-1')
      .send({ ...tinyRequest(), [secret]: 1 });
    assert.equal(res.status, 400);
    const line = t.logs.find((l) => l.reqId === 'log-test-1');
    assert.ok(line);
    assert.equal(line.status, 400);
    assert.equal(line.route, '/v1/plans');
    assert.equal(line.code, 'VALIDATION_FAILED');
    assert.equal(typeof line.ms, 'number');
    assert.ok(!JSON.stringify(t.logs).includes(secret));
  });

  it('while draining: /readyz is 503, new solves are refused with Retry-After, cached answers still flow', async () => {
    const posted = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ gpus: { count: 4 } }));
    assert.equal(posted.status, 201);
    t.hplb.beginDrain();
    const ready = await request(t.app).get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'draining');
    assert.equal(ready.headers.connection, 'close');
    const refused = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ gpus: { count: 1 } }));
    assertProblem(refused, 503, 'DRAINING');
    assert.match(refused.headers['retry-after'], /^\d+$/);
    const stored = await request(t.app).get(posted.headers.location);
    assert.equal(stored.status, 200);
  });
});
