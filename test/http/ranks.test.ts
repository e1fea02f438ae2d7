import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { SMALL_MODEL, assertProblem, assertSchema, startTestApp, type TestApp } from './helpers.ts';

interface Ranks {
  tensorParallelSize: number;
  queryHeads: number;
  kvHeads: number;
  outputKvHeads: number;
  kvCacheFactor: number;
  expandKvNeeded: boolean;
  layers: { layer: number; queryHeads: number[]; kvHeads: number[]; ranks: RankHeads[] }[];
}

interface RankHeads {
  rank: number;
  units: number[];
  queryHeads: number[];
  kvHeads: number[];
}

/** Every query slot of every rank reads a KV slot holding its own logical KV head, as the engine maps them. */
function assertOwnKv(ranks: Ranks, groupSize: number): void {
  const perKv = ranks.queryHeads / ranks.outputKvHeads;
  for (const layer of ranks.layers) {
    layer.queryHeads.forEach((head, slot) => {
      assert.equal(layer.kvHeads[Math.floor(slot / perKv)], Math.floor(head / groupSize));
    });
  }
}

describe('GET /v1/plans/{planId}/ranks', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 1);
  });
  after(() => t.close());
  const post = async (body: object) => (await request(t.app).post('/v1/plans').send(body)).body;

  it("gives each rank of a kv-group plan its groups' query heads and KV heads", async () => {
    const greedy = { engine: 'greedy' };
    const plan = await post({ model: SMALL_MODEL, gpus: { count: 4 }, granularity: 'kv-group', solver: greedy });
    const res = await request(t.app).get(`/v1/plans/${plan.id}/ranks`);
    assert.equal(res.status, 200);
    assertSchema('PlanRanks', res.body);
    const ranks = res.body as Ranks;
    const { tensorParallelSize, queryHeads, kvHeads, outputKvHeads, kvCacheFactor, expandKvNeeded } = ranks;
    const summary = [tensorParallelSize, queryHeads, kvHeads, outputKvHeads, kvCacheFactor, expandKvNeeded];
    assert.deepEqual(summary, [4, 32, 8, 8, 1, false]);
    assert.equal(ranks.layers.length, 32);
    ranks.layers.forEach((layer, l) => {
      layer.ranks.forEach((rank, r) => {
        assert.deepEqual([...rank.kvHeads].sort(), [...plan.layers[l].gpu2units[r]].sort(), `layer ${l} rank ${r}`);
        assert.deepEqual(
          rank.queryHeads,
          rank.kvHeads.flatMap((g) => [0, 1, 2, 3].map((i) => g * 4 + i)),
        );
      });
    });
    assertOwnKv(ranks, 4);
  });

  it('says when a query-head plan needs duplicated KV heads, and how many', async () => {
    const plan = await post({ model: SMALL_MODEL, gpus: { count: 8 }, solver: { engine: 'greedy' } });
    const ranks = (await request(t.app).get(`/v1/plans/${plan.id}/ranks`).expect(200)).body as Ranks;
    assertSchema('PlanRanks', ranks);
    assert.equal(ranks.expandKvNeeded, ranks.outputKvHeads !== 8);
    assert.equal(ranks.kvCacheFactor, Math.max(1, ranks.outputKvHeads / 8));
    ranks.layers.forEach((layer, l) => {
      layer.ranks.forEach((rank, r) => {
        assert.deepEqual([...rank.queryHeads].sort(), [...plan.layers[l].gpu2units[r]].sort());
      });
    });
    assertOwnKv(ranks, 4);
  });

  it('needs kvGroupSize for a plan of explicit costs', async () => {
    const costs = [[4, 3, 2, 1, 1, 2, 3, 4]];
    const plan = await post({ costs, kvGroupSize: 2, granularity: 'kv-group', gpus: { count: 2 } });
    const missing = await request(t.app).get(`/v1/plans/${plan.id}/ranks`);
    const problem = assertProblem(missing, 422, 'INVALID_PROBLEM');
    assert.equal(problem.pointer, '/kvGroupSize');
    assert.equal(problem.in, 'query');
    const ranks = (await request(t.app).get(`/v1/plans/${plan.id}/ranks?kvGroupSize=2`).expect(200)).body as Ranks;
    assert.deepEqual([ranks.queryHeads, ranks.kvHeads], [8, 4]);
    assertOwnKv(ranks, 2);
    assertProblem(await request(t.app).get(`/v1/plans/${plan.id}/ranks?kvGroupSize=0`), 400, 'VALIDATION_FAILED');
  });

  it('refuses a plan with unequal heads per GPU, and answers 404 for an unknown plan', async () => {
    const plan = await post({ costs: [[9, 1, 1, 1]], gpus: { count: 2 }, constraints: { unitsPerGpu: 'free' } });
    const res = await request(t.app).get(`/v1/plans/${plan.id}/ranks?kvGroupSize=1`);
    const problem = assertProblem(res, 422, 'PLAN_MISMATCH');
    assert.match(String(problem.detail), /contiguous tensor-parallel sharding needs exactly 2 on each of 2/);
    assertProblem(await request(t.app).get(`/v1/plans/${'e'.repeat(32)}/ranks`), 404, 'PLAN_NOT_FOUND');
  });
});
