/**
 * Two replicas of the service sharing one real Redis, over HTTP: plans and lookups created on one
 * are served by the other, a burst of identical cold lookups split across both is solved once,
 * rate limits are counted across both, and a request waiting for the other replica's solve stops
 * at its own deadline and answers as a solve whose time ran out does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { describeRequiring, REDIS_SERVER } from '../requirements.ts';
import { assertSchema, type HeldRunner, holdRunner, SMALL_MODEL, type TestApp, tinyRequest } from './helpers.ts';
import { summed, suiteRedis, suiteReplicas, withoutPlanGrace } from './replica-helpers.ts';

const KEYS = ['replica-key-one-aaaa', 'replica-key-two-bbbb'] as const;
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describeRequiring(REDIS_SERVER, 'replicas sharing one Redis', { timeout: 120_000 }, () => {
  const redis = suiteRedis();

  describe('plans, lookups and limits', () => {
    const replicas = suiteReplicas(redis, { API_KEYS: KEYS.join(','), RATE_LIMIT_MAX: '4' });

    it('serves on B the plan POSTed on A, byte for byte', async () => {
      const { a, b } = replicas;
      const created = await request(a.app).post('/v1/plans').set(bearer(KEYS[0])).send(tinyRequest()).expect(201);
      const read = await request(b.app).get(created.headers.location).expect(200);
      assert.equal(read.headers.etag, created.headers.etag);
      assert.equal(read.text, created.text);
      await request(b.app).get(created.headers.location).set('If-None-Match', created.headers.etag).expect(304);
    });

    it("answers on B a lookup solved on A from the shared store (X-Cache: hit), and B's solve count stays 0", async () => {
      const { a, b } = replicas;
      const url = `/v1/models/${SMALL_MODEL}/plan?gpus=2&engine=greedy`;
      const first = await request(a.app).get(url).expect(200);
      assert.equal(first.headers['x-cache'], 'miss');
      const second = await request(b.app).get(url).expect(200);
      assert.equal(second.headers['x-cache'], 'hit');
      assert.equal(second.headers.etag, first.headers.etag);
      assert.equal(await summed([b], 'hplb_plan_solves_total'), 0);
    });

    it("counts a client's rate limit across both replicas, with API keys unchanged", async () => {
      const { a, b } = replicas;
      const post = (t: TestApp) => request(t.app).post('/v1/plans').set(bearer(KEYS[1])).send(tinyRequest());
      for (const t of [a, a, b, b]) assert.ok([200, 201].includes((await post(t)).status));
      // B has seen two of this key's POSTs, A two: the limit of four is reached on both.
      for (const t of [b, a]) assert.equal((await post(t)).status, 429);
      await request(a.app).post('/v1/plans').send(tinyRequest()).expect(401);
      assert.equal(await summed([a, b], 'hplb_store_fallbacks_total', { reason: 'rate_limit' }), 0);
    });
  });

  describe('a burst of identical cold lookups split across both', () => {
    const held: Record<string, HeldRunner> = {};
    const replicas = suiteReplicas(redis, {}, (pool, name) => {
      held[name] = holdRunner(pool);
      return held[name];
    });

    it('is solved exactly once', async () => {
      const { a, b } = replicas;
      const url = `/v1/models/${SMALL_MODEL}/plan?gpus=8&engine=greedy`;
      const answers = Array.from({ length: 8 }, (_, i) =>
        request((i % 2 === 0 ? a : b).app)
          .get(url)
          .then((r) => r),
      );
      // One replica's solve is held; every other request joins it, in that replica or through
      // the other's wait on its lease. Both replicas solving ends the wait too (and fails below).
      let both = false;
      void Promise.all([held.a.arrived, held.b.arrived]).then(() => {
        both = true;
      });
      while (!both && (await summed([a, b], 'hplb_plan_coalesced_total')) < 7) await sleep(10);
      held.a.release();
      held.b.release();
      const results = await Promise.all(answers);
      assert.deepEqual(
        results.map((r) => r.status),
        new Array(8).fill(200),
      );
      assert.equal(new Set(results.map((r) => r.text)).size, 1, 'one plan, byte for byte, from both replicas');
      assert.equal(await summed([a, b], 'hplb_plan_solves_total'), 1);
      assert.equal(await summed([a, b], 'hplb_store_lease_waits_total'), 1);
    });
  });

  describe("a request waiting for the other replica's solve", () => {
    let heldA: HeldRunner;
    const replicas = suiteReplicas(redis, {}, (pool, name) => {
      if (name === 'b') return withoutPlanGrace(pool);
      heldA = holdRunner(withoutPlanGrace(pool));
      return heldA;
    });

    it('stops at its deadline and answers as a solve whose time ran out, never an error', async () => {
      const { a, b } = replicas;
      const body = tinyRequest({ solver: { engine: 'ilp', timeLimitMs: 200 } });
      const owned = request(a.app)
        .post('/v1/plans')
        .send(body)
        .then((r) => r);
      await heldA.arrived;
      // A holds the lease (and renews it) while its solve is held past B's deadline.
      const waited = await request(b.app).post('/v1/plans').send(body);
      assert.equal(waited.status, 201, waited.text);
      assertSchema('Plan', waited.body);
      assert.equal(await summed([b], 'hplb_store_lease_waits_total'), 1);
      assert.equal(await summed([b], 'hplb_store_fallbacks_total', { reason: 'aborted' }), 1);
      assert.equal(await summed([b], 'hplb_plan_solves_total'), 1);
      heldA.release();
      const first = await owned;
      assert.equal(first.status, 201);
      assert.equal(first.body.id, waited.body.id);
    });
  });
});
