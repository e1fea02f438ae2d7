/**
 * Replicas when things fail, over HTTP on a real Redis: a replica killed while it holds a solve's
 * lease (a child process) costs the other one lease period; Redis killed and restarted with
 * requests in flight costs no request an error (every answer 2xx or 4xx), /readyz stays 200 with
 * the store degraded, then ok; while Redis is down, rate limits are counted by each replica.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import request from 'supertest';
import { describeRequiring, REDIS_SERVER } from '../requirements.ts';
import {
  type HeldRunner,
  holdRunner,
  SMALL_MODEL,
  startTestApp,
  TEST_APP_ENV,
  type TestApp,
  tinyRequest,
} from './helpers.ts';
import { replicaEnv, suiteRedis, suiteReplicas, summed, untilStore, untilSummed } from './replica-helpers.ts';

const HANGING_REPLICA = fileURLToPath(new URL('./fixtures/hanging-replica.ts', import.meta.url));
const lookup = (gpus: number) => `/v1/models/${SMALL_MODEL}/plan?gpus=${gpus}&engine=greedy`;

describeRequiring(REDIS_SERVER, 'replicas when a replica or Redis fails', { timeout: 120_000 }, () => {
  const redis = suiteRedis();

  describe('a replica killed while it solves', () => {
    let b: TestApp | undefined;
    let owner: ChildProcess | undefined;
    after(async () => {
      owner?.kill('SIGKILL');
      await b?.close();
    });

    it('costs the other replica one lease period: it takes the lease over and answers', async () => {
      const env = replicaEnv(redis.server);
      owner = spawn(process.execPath, ['--import', 'tsx', HANGING_REPLICA], {
        // Configured as the test app is: the same lookup is the same plan id on both.
        env: { ...process.env, ...TEST_APP_ENV, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: owner.stdout! })[Symbol.asyncIterator]();
      const port = Number((await lines.next()).value.split(' ')[1]);
      // The request the owner never answers: its connection is reset when the owner dies.
      get(`http://127.0.0.1:${port}${lookup(4)}`).on('error', () => undefined);
      assert.equal((await lines.next()).value, 'solving');

      b = await startTestApp(env);
      await untilStore(b.app, 'ok');
      const answer = request(b.app)
        .get(lookup(4))
        .then((r) => r);
      await untilSummed([b], 'hplb_store_lease_waits_total', 1);
      const exited = once(owner, 'exit');
      owner.kill('SIGKILL');
      await exited;
      const res = await answer;
      assert.equal(res.status, 200, res.text);
      assert.equal(await summed([b], 'hplb_store_lease_takeovers_total'), 1);
      assert.equal(await summed([b], 'hplb_plan_solves_total'), 1);
    });
  });

  describe('Redis killed and restarted under load', () => {
    let heldA: HeldRunner;
    const replicas = suiteReplicas(redis, {}, (pool, name) => {
      if (name === 'b') return pool;
      heldA = holdRunner(pool);
      return heldA;
    });

    it('costs no request an error; /readyz stays 200, the store degraded, then ok', async () => {
      const { a, b } = replicas;
      // Before: a plan and a lookup solved on B and read on A (A's own solves are held).
      const created = await request(b.app).post('/v1/plans').send(tinyRequest()).expect(201);
      await request(a.app).get(created.headers.location).expect(200);
      await request(b.app).get(lookup(2)).expect(200);
      // In flight across the outage: A owns a solve's lease, B waits for it.
      const owned = request(a.app)
        .get(lookup(8))
        .then((r) => r);
      await heldA.arrived;
      const waited = request(b.app)
        .get(lookup(8))
        .then((r) => r);
      await untilSummed([b], 'hplb_store_lease_waits_total', 1);

      const load = startLoad([a.app, b.app], created.headers.location);
      await load.until(40);
      await redis.server.kill();
      await Promise.all([untilStore(a.app, 'degraded'), untilStore(b.app, 'degraded')]);
      await load.until(40);
      // Solved while Redis is down: each replica on its own.
      for (const t of [a, b]) await request(t.app).get('/readyz').expect(200);
      const cold = await request(b.app)
        .post('/v1/plans')
        .send(tinyRequest({ solver: { engine: 'greedy' } }));
      assert.equal(cold.status, 201, cold.text);
      assert.equal((await waited).status, 200, 'the waiter solves itself once Redis is gone');
      heldA.release();
      assert.equal((await owned).status, 200, 'the owner answers though it cannot store its plan in Redis');
      await redis.server.start();
      await Promise.all([untilStore(a.app, 'ok'), untilStore(b.app, 'ok')]);
      await load.until(40);
      const statuses = await load.stop();

      assert.deepEqual(
        [...statuses.keys()].filter((status) => status >= 500),
        [],
      );
      assert.deepEqual(load.readiness(), {
        statuses: [200],
        stores: [
          ['ok', 'degraded', 'ok'],
          ['ok', 'degraded', 'ok'],
        ],
      });
      for (const t of [a, b]) assert.ok((await summed([t], 'hplb_store_errors_total')) >= 1);
      assert.ok((await summed([b], 'hplb_store_fallbacks_total', { reason: 'store_error' })) >= 1);
      // Sharing resumes.
      const after = await request(a.app)
        .post('/v1/plans')
        .send(tinyRequest({ solver: { engine: 'contiguous' } }));
      await request(b.app).get(after.headers.location).expect(200);
    });
  });

  describe('rate limits while Redis is down', () => {
    const replicas = suiteReplicas(redis, { RATE_LIMIT_MAX: '3' });

    it('are counted by each replica on its own, and never fail a request', async () => {
      const { a, b } = replicas;
      const post = (t: TestApp) => request(t.app).post('/v1/plans').send(tinyRequest());
      assert.equal((await post(a)).status, 201);
      await redis.server.stop();
      await Promise.all([untilStore(a.app, 'degraded'), untilStore(b.app, 'degraded')]);
      const statuses = [];
      for (const t of [a, a, a, a, b, b, b, b]) statuses.push((await post(t)).status);
      // Each replica allows the limit on its own (A's count in Redis is out of reach), and B,
      // which cannot read A's plan from Redis, solves it again.
      assert.deepEqual(statuses, [200, 200, 200, 429, 201, 200, 200, 429]);
      assert.equal(await summed([a, b], 'hplb_store_fallbacks_total', { reason: 'rate_limit' }), 8);
      await redis.server.start();
      await Promise.all([untilStore(a.app, 'ok'), untilStore(b.app, 'ok')]);
      assert.equal((await post(b)).status, 200, 'counted in Redis again, which restarted empty');
    });
  });
});

/**
 * Requests on every replica, one after another on two loops each, until stopped: a cached lookup, a
 * stored plan (a 404 where a replica lost it is an answer too), a POST of a stored plan, /readyz.
 */
function startLoad(apps: readonly Express[], location: string) {
  const statuses = new Map<number, number>();
  // /readyz's statuses, and each replica's store states in the order seen.
  const ready = { statuses: new Set<number>(), stores: apps.map(() => [] as string[]) };
  let running = true;
  let done = 0;
  const calls = [
    (app: Express) => request(app).get(lookup(2)),
    (app: Express) => request(app).get(location),
    (app: Express) => request(app).post('/v1/plans').send(tinyRequest()),
    async (app: Express) => {
      const res = await request(app).get('/readyz');
      ready.statuses.add(res.status);
      const seen = ready.stores[apps.indexOf(app)];
      if (seen.at(-1) !== res.body.checks.store) seen.push(res.body.checks.store);
      return res;
    },
  ];
  const loop = async (app: Express): Promise<void> => {
    for (let i = 0; running; i++) {
      const res = await calls[i % calls.length](app);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      done += 1;
    }
  };
  const loops = [...apps, ...apps].map(loop);
  return {
    /** Resolves once `more` requests have been answered from now. */
    async until(more: number): Promise<void> {
      const target = done + more;
      while (done < target) await turn();
    },
    async stop(): Promise<Map<number, number>> {
      running = false;
      await Promise.all(loops);
      return statuses;
    },
    readiness: () => ({ statuses: [...ready.statuses], stores: ready.stores }),
  };
}
