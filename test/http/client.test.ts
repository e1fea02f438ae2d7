import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import createClient from 'openapi-fetch';
import type { paths } from '../../src/api-types.ts';
import { SMALL_MODEL, assertSchema, startTestApp, type TestApp } from './helpers.ts';

describe('a client generated from openapi.yaml, against a listening server', () => {
  let t: TestApp;
  let server: Server;
  let client: ReturnType<typeof createClient<paths>>;
  before(async () => {
    t = await startTestApp();
    server = await new Promise<Server>((resolve) => {
      const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    client = createClient<paths>({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  it('lists models, creates a plan, fetches it back and looks it up per model', async () => {
    const models = await client.GET('/v1/models');
    assert.ok(models.data?.models.some((m) => m.id === SMALL_MODEL));

    const created = await client.POST('/v1/plans', {
      body: {
        model: SMALL_MODEL,
        gpus: { count: 4 },
        granularity: 'kv-group',
        solver: { engine: 'auto', timeLimitMs: 3000 },
      },
    });
    assert.equal(created.response.status, 201);
    const plan = created.data!;
    assertSchema('Plan', plan);
    assert.equal(plan.layers.length, 32);
    assert.equal(created.response.headers.get('location'), `/v1/plans/${plan.id}`);

    const fetched = await client.GET('/v1/plans/{planId}', { params: { path: { planId: plan.id } } });
    assert.equal(fetched.data?.id, plan.id);

    const lookedUp = await client.GET('/v1/models/{modelId}/plan', {
      params: { path: { modelId: SMALL_MODEL }, query: { gpus: 4, granularity: 'kv-group' } },
    });
    assert.equal(lookedUp.response.status, 200);
    assert.equal(lookedUp.data?.totals.layersProvenOptimal, 32);
  });

  it('reads the rank view of a plan as the manifest of apply lays it out', async () => {
    const created = await client.POST('/v1/plans', {
      body: { model: SMALL_MODEL, gpus: { count: 2 }, granularity: 'kv-group', solver: { engine: 'greedy' } },
    });
    const ranks = await client.GET('/v1/plans/{planId}/ranks', { params: { path: { planId: created.data!.id } } });
    assert.equal(ranks.response.status, 200);
    assertSchema('PlanRanks', ranks.data);
    assert.equal(ranks.data?.tensorParallelSize, 2);
    assert.deepEqual(
      ranks.data?.layers[0].ranks.map((r) => r.kvHeads.length),
      [4, 4],
    );
    const refused = await client.GET('/v1/plans/{planId}/ranks', {
      params: { path: { planId: created.data!.id }, query: { kvGroupSize: 2 } },
    });
    assert.equal(refused.error?.code, 'INVALID_PROBLEM');
  });

  it('gets typed problems back', async () => {
    const missing = await client.GET('/v1/plans/{planId}', { params: { path: { planId: 'f'.repeat(32) } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.error?.code, 'PLAN_NOT_FOUND');
    const impossible = await client.POST('/v1/plans', { body: { costs: [[1, 2, 3]], gpus: { count: 2 } } });
    assert.equal(impossible.error?.code, 'UNITS_NOT_DIVISIBLE');
  });
});
