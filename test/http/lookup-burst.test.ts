/**
 * A burst of identical cold per-model lookups: one normalisation and one solve for all of them,
 * none refused for a body-worker queue filled with copies of the same request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import type { BodyPool } from '../../src/http/body-pool.ts';
import {
  type HeldRunner,
  holdRunner,
  metricValue,
  SMALL_MODEL,
  startTestApp,
  type TestApp,
  testBodyPool,
} from './helpers.ts';

/** One body worker that lets two bodies wait: fewer than the burst. */
const ENV = { MAX_QUEUED_BODIES: '2' };
const BURST = 8;

describe('a burst of identical cold lookups', () => {
  let t: TestApp;
  let bodies: BodyPool;
  let held: HeldRunner;
  before(async () => {
    bodies = testBodyPool(ENV, { maxQueued: 2 });
    await bodies.ready();
    t = await startTestApp(
      ENV,
      1,
      null,
      (pool) => {
        held = holdRunner(pool);
        return held;
      },
      { bodyPool: bodies },
    );
  });
  after(async () => {
    await Promise.all([t.close(), bodies.close()]);
  });

  it('is normalised and solved once and answered 200 everywhere', async () => {
    const url = `/v1/models/${SMALL_MODEL}/plan?gpus=4&engine=greedy`;
    let settled = 0;
    const answers = Array.from({ length: BURST }, () =>
      request(t.app)
        .get(url)
        .then((r) => {
          settled += 1;
          return r;
        }),
    );
    await held.arrived;
    // Every other request has joined the first, or (were lookups not shared) been answered already.
    const joined = async () => metricValue((await request(t.app).get('/metrics')).text, 'hplb_plan_coalesced_total');
    while (settled + (await joined()) < BURST - 1) await sleep(10);
    held.release();
    const results = await Promise.all(answers);
    assert.deepEqual(
      results.map((r) => r.status),
      new Array(BURST).fill(200),
    );
    const text = (await request(t.app).get('/metrics')).text;
    assert.equal(metricValue(text, 'hplb_plan_solves_total'), 1);
    assert.equal(metricValue(text, 'hplb_plan_coalesced_total'), BURST - 1);
  });
});
