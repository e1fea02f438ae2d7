import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { assertProblem, assertSchema, SMALL_MODEL, startTestApp, type TestApp } from './helpers.ts';

const LOOKUP = `/v1/models/${SMALL_MODEL}/plan?gpus=8`;

describe('the per-model lookup with a KV cap, a KV-group limit and a workload mix', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 1);
  });
  after(() => t.close());

  it('keeps the KV cache at the contiguous placement by default, and says so', async () => {
    const res = await request(t.app).get(LOOKUP);
    assert.equal(res.status, 200);
    assertSchema('Plan', res.body);
    assert.equal(res.body.maxKvCacheFactor, 1);
    assert.equal(res.body.totals.kvCacheFactor, 1);
    assert.ok(res.body.layers.every((l: { kvHeadsPerGpu: number[] }) => l.kvHeadsPerGpu.every((k) => k === 1)));
    assert.equal(res.body.totals.kvBytesPerGpuMax, 32 * 2 * 131072 * 128 * 2);
  });

  it('takes maxKvCacheFactor as a number or unlimited, each its own cached plan', async () => {
    const capped = await request(t.app).get(`${LOOKUP}&engine=greedy&maxKvCacheFactor=1.5`);
    assert.equal(capped.status, 200);
    assert.equal(capped.body.maxKvCacheFactor, 1.5);
    assert.ok(capped.body.layers.every((l: { kvHeadsStored: number }) => l.kvHeadsStored <= 12));
    const free = await request(t.app).get(`${LOOKUP}&engine=greedy&maxKvCacheFactor=unlimited`);
    assert.equal(free.status, 200);
    assert.equal(free.body.maxKvCacheFactor, null);
    assert.notEqual(free.body.id, capped.body.id);
    const again = await request(t.app).get(`${LOOKUP}&engine=greedy&maxKvCacheFactor=1.5`);
    assert.equal(again.headers['x-cache'], 'hit');
    assert.equal(again.body.id, capped.body.id);
  });

  it('takes maxKvGroupsPerGpu', async () => {
    const res = await request(t.app).get(`${LOOKUP}&engine=greedy&maxKvCacheFactor=unlimited&maxKvGroupsPerGpu=2`);
    assert.equal(res.status, 200);
    assert.equal(res.body.maxKvGroupsPerGpu, 2);
    assert.ok(res.body.layers.every((l: { kvHeadsPerGpu: number[] }) => l.kvHeadsPerGpu.every((k) => k <= 2)));
  });

  it('takes a mix in the CLI form, priced by the default roofline', async () => {
    const res = await request(t.app).get(`${LOOKUP}&engine=greedy&mix=prefill:4096:1,decode:4096:100`);
    assert.equal(res.status, 200);
    assertSchema('Plan', res.body);
    assert.deepEqual(res.body.workload, {
      mix: [
        { phase: 'prefill', seqLen: 4096, weight: 1 },
        { phase: 'decode', seqLen: 4096, weight: 100 },
      ],
    });
    assert.equal(res.body.costModel.name, 'roofline:h100-sxm');
    assert.equal(res.body.totals.phases.length, 2);
  });

  it("plans a seqLen beyond the model's context length, with a warning", async () => {
    const res = await request(t.app).get(
      '/v1/models/mistral-7b-instruct-v0.2-duo/plan?gpus=8&engine=greedy&seqLen=65536',
    );
    assert.equal(res.status, 200);
    assertSchema('Plan', res.body);
    assert.deepEqual(
      res.body.warnings.map((w: { code: string; pointer: string }) => [w.code, w.pointer]),
      [['SEQ_LEN_BEYOND_CONTEXT', '/workload/seqLen']],
    );
  });

  it('points every refusal at its query parameter', async () => {
    const cases: [string, number, string, string][] = [
      ['&maxKvCacheFactor=lots', 400, 'VALIDATION_FAILED', '/maxKvCacheFactor'],
      ['&maxKvCacheFactor=0.5', 422, 'INVALID_PROBLEM', '/maxKvCacheFactor'],
      ['&maxKvGroupsPerGpu=0', 400, 'VALIDATION_FAILED', '/maxKvGroupsPerGpu'],
      ['&mix=decode:0:1', 422, 'INVALID_PROBLEM', '/mix'],
      ['&mix=decode:4096:1&seqLen=4096', 422, 'INVALID_PROBLEM', '/mix'],
      ['&mix=decode:4096:1&costModel=executed-work', 422, 'INVALID_PROBLEM', '/costModel'],
      ['&costModel=analytic', 422, 'INVALID_PROBLEM', '/costModel'],
    ];
    for (const [query, status, code, pointer] of cases) {
      const problem = assertProblem(await request(t.app).get(`${LOOKUP}${query}`), status, code);
      assert.equal(problem.pointer, pointer, query);
      assert.equal(problem.in, 'query', query);
    }
  });
});
