import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { SMALL_MODEL, assertSchema, startTestApp, type TestApp } from './helpers.ts';

describe('the model registry over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('lists every model with architecture, provenance and heterogeneity', async () => {
    const res = await request(t.app).get('/v1/models');
    assert.equal(res.status, 200);
    assertSchema('ModelList', res.body);
    const ids = (res.body.models as { id: string }[]).map((m) => m.id);
    assert.deepEqual(
      ids,
      loadRegistry()
        .list()
        .map((p) => p.id),
    );
    const llama = res.body.models.find((m: { id: string }) => m.id === SMALL_MODEL);
    assert.deepEqual(llama.architecture, {
      layers: 32,
      queryHeads: 32,
      kvHeads: 8,
      headDim: 128,
      contextLength: 262144,
    });
    assert.equal(llama.provenance.repository, 'microsoft/MInference');
    assert.ok(llama.heterogeneity.maxOverMin > 1);
    assert.ok(llama.heterogeneity.maxDistinctBudgets >= 2);
  });

  it('describes one model layer by layer, at a chosen sequence length', async () => {
    const res = await request(t.app).get(`/v1/models/${SMALL_MODEL}`);
    assert.equal(res.status, 200);
    assertSchema('ModelDetail', res.body);
    assert.equal(res.body.layers.length, 32);
    assert.equal(res.body.heterogeneity.seqLen, 131072);
    const short = await request(t.app).get(`/v1/models/${SMALL_MODEL}?seqLen=4096`);
    assert.equal(short.body.heterogeneity.seqLen, 4096);
    assertSchema('ModelDetail', short.body);
  });
});
