/**
 * Rate limits behind a load balancer: with TRUST_PROXY naming the proxies in front, a client is the
 * address its X-Forwarded-For gives; without it, every request through the balancer is one client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp, tinyRequest } from './helpers.ts';

describe('rate limits behind a proxy', () => {
  let trusting: TestApp;
  let plain: TestApp;
  before(async () => {
    [trusting, plain] = await Promise.all([
      startTestApp({ RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' }),
      startTestApp({ RATE_LIMIT_MAX: '1' }),
    ]);
  });
  after(async () => {
    await Promise.all([trusting?.close(), plain?.close()]);
  });

  const post = (t: TestApp, client: string) =>
    request(t.app).post('/v1/plans').set('X-Forwarded-For', client).send(tinyRequest());

  it('counts each client its proxy names when TRUST_PROXY says how many proxies are in front', async () => {
    assert.equal((await post(trusting, '203.0.113.1')).status, 201);
    assert.equal((await post(trusting, '203.0.113.2')).status, 200, 'another client, within its own limit');
    assert.equal((await post(trusting, '203.0.113.1')).status, 429);
  });

  it('counts the proxy itself when TRUST_PROXY is off: one limit for everyone behind it', async () => {
    assert.equal((await post(plain, '203.0.113.1')).status, 201);
    assert.equal((await post(plain, '203.0.113.2')).status, 429);
  });
});
