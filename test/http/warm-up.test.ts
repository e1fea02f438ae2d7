/**
 * The warm-up an instance sends itself before /readyz turns 200 (src/http/warm-up.ts, server.ts):
 * over a real listening server with API keys on, every request gets the answer a healthy
 * instance gives, and readiness waits for markWarm().
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createHttpServer } from '../../src/http/server-options.ts';
import { warmUp, warmUpRequests } from '../../src/http/warm-up.ts';
import { startTestApp, type TestApp } from './helpers.ts';

const KEY = 'warm-up-key-0123456789';

describe('warm-up', () => {
  let t: TestApp;
  let server: ReturnType<typeof createHttpServer>;
  let base: string;
  before(async () => {
    t = await startTestApp({ API_KEYS: KEY, AUTH_READS: 'true' }, 1, null, undefined, { warmUpFirst: true });
    server = createHttpServer(t.hplb.handler, t.config);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  it('keeps /readyz 503 until the warm-up is done; every warm-up request gets a healthy answer', async () => {
    const cold = await request(t.app).get('/readyz');
    assert.equal(cold.status, 503);
    assert.equal(cold.body.checks.warm, false);
    assert.equal(cold.body.checks.solver, true);

    const listed = await request(t.app).get('/v1/models').set('authorization', `Bearer ${KEY}`);
    const requests = warmUpRequests((listed.body as { models: { id: string }[] }).models[0].id);
    assert.ok(
      requests.some((r) => r.path.startsWith('/v1/models/')),
      'a registry model is looked up',
    );
    const results = await warmUp(base, requests, KEY);
    assert.deepEqual(
      results.map((r) => `${r.path} ${r.status}`),
      results.map((r) => `${r.path} ${r.expected}`),
    );

    t.hplb.markWarm();
    const warm = await request(t.app).get('/readyz');
    assert.equal(warm.status, 200);
    assert.equal(warm.body.checks.warm, true);
  });

  it('reports status 0 for a request that cannot connect', async () => {
    const [result] = await warmUp('http://127.0.0.1:1', [{ method: 'GET', path: '/livez', expect: 200 }]);
    assert.equal(result.status, 0);
  });
});
