/**
 * Requests that read a stored plan (re-plans from previous.planId, GET .../ranks) and budgets
 * answers answer the same with and without body workers, for small plans (read on the event loop
 * either way) and large ones (above BODY_WORKER_THRESHOLD_BYTES: a body worker builds the ranks),
 * with res.json's headers; and the event loop never parses a stored plan for a re-plan, nor for
 * the ranks of a large plan when a body worker is there.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import etag from 'etag';
import request from 'supertest';
import { createRandom } from '../../src/random.ts';
import { assertProblem, assertSchema, SMALL_MODEL, appsWithAndWithoutBodyPool, type TestApp } from './helpers.ts';

const ENV = { DEFAULT_TIME_LIMIT_MS: '3000' };
const KV_GROUP = 4;

/** A plan request of explicit costs, layers x units on 4 GPUs; drift changes the costs. */
function costsRequest(layers: number, units: number, drift = 0): Record<string, unknown> {
  const random = createRandom(7 + drift * 1000);
  const costs = Array.from({ length: layers }, () =>
    Array.from({ length: units }, () => 1 + Math.round(99 * random())),
  );
  return { costs, kvGroupSize: KV_GROUP, gpus: { count: 4 }, solver: { engine: 'greedy' } };
}

/** Counts JSON.parse calls on exactly `text` while `run` runs. */
async function parsesOf(text: string, run: () => Promise<unknown>): Promise<number> {
  const parse = JSON.parse;
  let count = 0;
  JSON.parse = (input: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    if (input === text) count += 1;
    return parse(input, reviver);
  };
  try {
    await run();
  } finally {
    JSON.parse = parse;
  }
  return count;
}

/** What must be identical between the two apps' answers: status, body bytes and the headers res.json sets. */
function sent(res: request.Response): unknown {
  const h = res.headers;
  return {
    status: res.status,
    text: res.text,
    headers: [h['content-type'], h['content-length'], h.etag, h['cache-control']],
  };
}

describe('reading stored plans with and without body workers', () => {
  const apps = appsWithAndWithoutBodyPool(ENV);

  /**
   * POSTs the plan to both apps (201, or 200 once stored); the same request gives the same plan id
   * in both, and each app's stored text (solve times differ).
   */
  async function storeBoth(body: object): Promise<{ id: string; text: string; offloadedText: string }> {
    const here = await request(apps.inThread.app).post('/v1/plans').send(body);
    const there = await request(apps.offloaded.app).post('/v1/plans').send(body);
    assert.ok([200, 201].includes(here.status) && [200, 201].includes(there.status), here.text.slice(0, 300));
    assert.equal(there.body.id, here.body.id);
    return { id: here.body.id as string, text: here.text, offloadedText: there.text };
  }

  const SIZES = [
    ['a small plan', 2, 8],
    ['a large plan', 64, 64],
  ] as const;
  for (const [name, layers, units] of SIZES) {
    it(`answers the ranks of ${name} byte for byte alike, with res.json's headers and 304 when fresh`, async () => {
      const stored = await storeBoth(costsRequest(layers, units));
      const threshold = apps.inThread.config.bodyWorkerThresholdBytes;
      assert.equal(Buffer.byteLength(stored.text) > threshold, name === 'a large plan', 'sizes straddle the threshold');
      const path = `/v1/plans/${stored.id}/ranks?kvGroupSize=${KV_GROUP}`;
      const here = await request(apps.inThread.app).get(path);
      const there = await request(apps.offloaded.app).get(path);
      assert.equal(here.status, 200);
      assertSchema('PlanRanks', there.body);
      assert.deepEqual(sent(there), sent(here));
      assert.equal(there.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(there.headers.etag, etag(Buffer.from(there.text), { weak: true }));
      assert.equal(Number(there.headers['content-length']), Buffer.byteLength(there.text));
      await request(apps.offloaded.app).get(path).set('If-None-Match', String(there.headers.etag)).expect(304);
      // The worker got a copy: the stored plan is still whole.
      const kept = await request(apps.offloaded.app).get(`/v1/plans/${stored.id}`).expect(200);
      assert.equal(kept.text, stored.offloadedText);
    });

    it(`re-plans from ${name} alike, and to the same plan as from its unit2gpu`, async () => {
      const stored = await storeBoth(costsRequest(layers, units));
      const body = { ...costsRequest(layers, units, 1), previous: { planId: stored.id } };
      const here = await request(apps.inThread.app).post('/v1/plans').send(body).expect(201);
      const there = await request(apps.offloaded.app).post('/v1/plans').send(body).expect(201);
      // The id hashes the placement the re-plan starts from (stage 2's moves depend on its time limits).
      assert.equal(there.body.id, here.body.id);
      assert.equal(here.body.migration.previousPlanId, stored.id);
      assert.equal(there.body.migration.previousPlanId, stored.id);
      const unit2gpu = (JSON.parse(stored.text) as { layers: { unit2gpu: number[] }[] }).layers.map((l) => l.unit2gpu);
      const inline = { ...costsRequest(layers, units, 1), previous: { unit2gpu } };
      const fromRows = await request(apps.inThread.app).post('/v1/plans').send(inline);
      assert.equal(fromRows.body.id, here.body.id, 'the placement read from the entry is the stored one');
    });
  }

  it('never parses the stored plan on the event loop for a re-plan, nor for the ranks of a large plan with workers', async () => {
    const small = await storeBoth(costsRequest(2, 8));
    const large = await storeBoth(costsRequest(64, 64));
    const replan = (t: TestApp, id: string) =>
      request(t.app)
        .post('/v1/plans')
        .send({ ...costsRequest(64, 64, 2), previous: { planId: id } })
        .expect(201);
    const ranks = (t: TestApp, id: string) =>
      request(t.app).get(`/v1/plans/${id}/ranks?kvGroupSize=${KV_GROUP}`).expect(200);
    assert.equal(await parsesOf(large.text, () => replan(apps.inThread, large.id)), 0);
    assert.equal(await parsesOf(large.offloadedText, () => replan(apps.offloaded, large.id)), 0);
    assert.equal(await parsesOf(large.offloadedText, () => ranks(apps.offloaded, large.id)), 0);
    // Without workers, or for a small plan, the ranks are built here: the count sees that parse.
    assert.equal(await parsesOf(large.text, () => ranks(apps.inThread, large.id)), 1);
    assert.equal(await parsesOf(small.offloadedText, () => ranks(apps.offloaded, small.id)), 1);
  });

  it("refuses a plan that does not fit the engine's split alike", async () => {
    // One unit of each layer far heavier than the rest: free counts leave its GPU with fewer units.
    const plain = costsRequest(64, 64);
    const costs = (plain.costs as number[][]).map((row, l) => row.map((c, u) => (u === l % 64 ? c * 80 : c)));
    const stored = await storeBoth({ ...plain, costs, constraints: { unitsPerGpu: 'free' } });
    const path = `/v1/plans/${stored.id}/ranks?kvGroupSize=${KV_GROUP}`;
    const here = await request(apps.inThread.app).get(path);
    const there = await request(apps.offloaded.app).get(path);
    const problem = assertProblem(there, 422, 'PLAN_MISMATCH');
    assert.deepEqual({ ...problem, requestId: null }, { ...here.body, requestId: null });
  });

  it('the per-model lookup re-plans from a stored plan alike', async () => {
    const lookup = `/v1/models/${SMALL_MODEL}/plan?gpus=8&engine=greedy`;
    const first = await request(apps.inThread.app).get(lookup).expect(200);
    await request(apps.offloaded.app).get(lookup).expect(200);
    const replan = `${lookup}&seqLen=8192&previous=${first.body.id}`;
    const here = await request(apps.inThread.app).get(replan).expect(200);
    const there = await request(apps.offloaded.app).get(replan).expect(200);
    assert.equal(there.body.id, here.body.id);
    assert.deepEqual(there.body.migration.totals, here.body.migration.totals);
  });

  it('sends a large budgets answer computed by a body worker with the headers res.json gives it here', async () => {
    const curves = Array.from({ length: 400 }, (_, i) => ({
      layer: Math.floor(i / 32),
      head: i % 32,
      points: [
        { budget: 64, recovery: 0.5 },
        { budget: 1024 + (i % 8), recovery: 0.97 },
      ],
    }));
    const text = JSON.stringify({ target: 0.9, curves });
    assert.ok(text.length > apps.inThread.config.bodyWorkerThresholdBytes);
    const post = (t: TestApp) =>
      request(t.app).post('/v1/budgets').set('Content-Type', 'application/json').send(text).expect(200);
    const here = await post(apps.inThread);
    const there = await post(apps.offloaded);
    assert.deepEqual(sent(there), sent(here));
    assert.equal(there.headers.etag, etag(Buffer.from(there.text), { weak: true }));
    assertSchema('BudgetsResponse', there.body);
  });
});
