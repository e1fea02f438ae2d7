import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { SMALL_MODEL, assertProblem, metricValue, startTestApp, tinyRequest, type TestApp } from './helpers.ts';

const BIG_MODEL = 'llama-3-70b-instruct-262k-minference';
const profile = JSON.parse(
  readFileSync(new URL(`../../models/${SMALL_MODEL}.json`, import.meta.url), 'utf8'),
) as Record<string, unknown>;

interface Case {
  readonly name: string;
  readonly method?: 'get' | 'post' | 'delete' | 'put';
  readonly url: string;
  /** A JSON value to send, or raw text (with `type`). */
  readonly body?: unknown;
  readonly raw?: string;
  readonly type?: string;
  readonly status: number;
  readonly code: string;
  readonly pointer?: string;
  readonly in?: string;
  /** Text the detail must contain. */
  readonly detail?: RegExp;
}

const plans = '/v1/plans';
const lookup = `/v1/models/${SMALL_MODEL}/plan`;

const CASES: readonly Case[] = [
  // The contract: malformed, wrong types, missing and unknown fields (400).
  {
    name: 'malformed JSON',
    method: 'post',
    url: plans,
    raw: '{"costs": [[1, 2]],',
    type: 'application/json',
    status: 400,
    code: 'MALFORMED_JSON',
  },
  {
    name: 'a JSON scalar body',
    method: 'post',
    url: plans,
    raw: '3',
    type: 'application/json',
    status: 400,
    code: 'MALFORMED_JSON',
  },
  {
    name: 'an array body',
    method: 'post',
    url: plans,
    body: [1, 2],
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '',
    in: 'body',
  },
  {
    name: 'an empty JSON body',
    method: 'post',
    url: plans,
    raw: '',
    type: 'application/json',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'a string where a number goes',
    method: 'post',
    url: plans,
    body: tinyRequest({ gpus: { count: '2' } }),
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpus/count',
    in: 'body',
  },
  {
    name: 'a fractional GPU count',
    method: 'post',
    url: plans,
    body: tinyRequest({ gpus: { count: 1.5 } }),
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpus/count',
  },
  {
    name: 'a missing required field',
    method: 'post',
    url: plans,
    body: { costs: [[1, 2]] },
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpus',
    detail: /is required/,
  },
  {
    name: 'no source of costs',
    method: 'post',
    url: plans,
    body: { gpus: { count: 2 } },
    status: 400,
    code: 'VALIDATION_FAILED',
    detail: /exactly one of model, profile, costs/,
  },
  {
    name: 'two sources of costs',
    method: 'post',
    url: plans,
    body: tinyRequest({ model: SMALL_MODEL }),
    status: 400,
    code: 'VALIDATION_FAILED',
    detail: /exactly one of/,
  },
  {
    name: 'an unknown top-level field',
    method: 'post',
    url: plans,
    body: tinyRequest({ gpu: 2 }),
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpu',
    detail: /not an allowed property/,
  },
  {
    name: 'an unknown nested field',
    method: 'post',
    url: plans,
    body: tinyRequest({ solver: { engine: 'auto', timeout: 5 } }),
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/solver/timeout',
  },
  {
    name: 'an unknown engine',
    method: 'post',
    url: plans,
    body: tinyRequest({ solver: { engine: 'cplex' } }),
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/solver/engine',
    detail: /"auto"/,
  },
  {
    name: 'a negative cost',
    method: 'post',
    url: plans,
    body: { costs: [[1, -1]], gpus: { count: 2 } },
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/costs/0/1',
  },
  {
    name: 'a malformed unitsPerGpu',
    method: 'post',
    url: plans,
    body: tinyRequest({ constraints: { unitsPerGpu: 'max:0' } }),
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/constraints/unitsPerGpu',
  },
  {
    name: 'a gap tolerance finer than GLPK proves',
    method: 'post',
    url: plans,
    body: tinyRequest({ solver: { gapTolerance: 1e-9 } }),
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/solver/gapTolerance',
  },
  {
    name: 'a KV-group limit no placement meets (proven by search)',
    method: 'post',
    url: plans,
    body: { costs: [[1, 2, 3, 4, 5, 6]], kvGroupSize: 3, gpus: { count: 3 }, constraints: { maxKvGroupsPerGpu: 1 } },
    status: 422,
    code: 'INFEASIBLE_CONSTRAINTS',
    detail: /exhaustive search/,
  },
  {
    name: 'a zero GPU speed',
    method: 'post',
    url: plans,
    body: tinyRequest({ gpus: { count: 2, speeds: [1, 0] } }),
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpus/speeds/1',
  },
  {
    name: 'a model id that is a path',
    method: 'post',
    url: plans,
    body: { model: '../package.json', gpus: { count: 2 } },
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/model',
  },
  {
    name: 'an inline profile missing a field',
    method: 'post',
    url: plans,
    body: { profile: { ...profile, provenance: undefined }, gpus: { count: 4 } },
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/profile/provenance',
  },
  {
    name: 'a body that is not JSON',
    method: 'post',
    url: plans,
    raw: 'costs=1',
    type: 'text/plain',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a JSON body in another charset',
    method: 'post',
    url: plans,
    raw: '{}',
    type: 'application/json; charset=latin1',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },

  // Well formed, but not a problem the service can solve (404, 422).
  {
    name: 'an unknown model',
    method: 'post',
    url: plans,
    body: { model: 'gpt-5', gpus: { count: 2 } },
    status: 404,
    code: 'UNKNOWN_MODEL',
    pointer: '/model',
    detail: new RegExp(SMALL_MODEL),
  },
  {
    name: 'a model id naming a file in the working directory',
    method: 'post',
    url: plans,
    body: { model: 'package.json', gpus: { count: 2 } },
    status: 404,
    code: 'UNKNOWN_MODEL',
  },
  {
    name: 'an unknown cost model',
    method: 'post',
    url: plans,
    body: { model: SMALL_MODEL, gpus: { count: 4 }, costModel: 'tpu-v9' },
    status: 404,
    code: 'UNKNOWN_CALIBRATION',
    pointer: '/costModel',
  },
  {
    name: 'units that do not divide across GPUs',
    method: 'post',
    url: plans,
    body: tinyRequest({ gpus: { count: 3 } }),
    status: 422,
    code: 'UNITS_NOT_DIVISIBLE',
    pointer: '/constraints/unitsPerGpu',
    detail: /4 units cannot be split equally across 3 GPUs/,
  },
  {
    name: 'a KV-group limit too tight',
    method: 'post',
    url: plans,
    body: { model: SMALL_MODEL, gpus: { count: 4 }, constraints: { maxKvGroupsPerGpu: 1 } },
    status: 422,
    code: 'INFEASIBLE_CONSTRAINTS',
    pointer: '/constraints/maxKvGroupsPerGpu',
    detail: /too tight/,
  },
  {
    name: 'a per-GPU maximum too small',
    method: 'post',
    url: plans,
    body: tinyRequest({ constraints: { unitsPerGpu: 'max:1' } }),
    status: 422,
    code: 'INFEASIBLE_CONSTRAINTS',
    detail: /fewer than the 4 to place/,
  },
  {
    name: 'speeds for another GPU count',
    method: 'post',
    url: plans,
    body: tinyRequest({ gpus: { count: 2, speeds: [1, 1, 1] } }),
    status: 422,
    code: 'INVALID_PROBLEM',
    pointer: '/gpus/speeds',
  },
  {
    name: 'a ragged cost matrix',
    method: 'post',
    url: plans,
    body: { costs: [[1, 2], [1]], gpus: { count: 1 } },
    status: 422,
    code: 'INVALID_PROBLEM',
    pointer: '/costs/1',
  },
  {
    name: 'a KV group size that does not divide the heads',
    method: 'post',
    url: plans,
    body: tinyRequest({ kvGroupSize: 3 }),
    status: 422,
    code: 'INVALID_PROBLEM',
    pointer: '/kvGroupSize',
  },
  {
    name: 'a pin to a GPU that does not exist',
    method: 'post',
    url: plans,
    body: tinyRequest({ constraints: { pins: [{ unit: 0, gpu: 5 }] } }),
    status: 422,
    code: 'INVALID_PROBLEM',
    pointer: '/constraints/pins/0/gpu',
  },
  {
    name: 'an inline profile whose version does not match',
    method: 'post',
    url: plans,
    body: { profile: { ...profile, version: '000000000000' }, gpus: { count: 4 } },
    status: 422,
    code: 'INVALID_PROFILE',
    pointer: '/profile/version',
  },
  {
    name: 'a problem above MAX_PROBLEM_SIZE',
    method: 'post',
    url: plans,
    body: { model: BIG_MODEL, gpus: { count: 4096 } },
    status: 422,
    code: 'PROBLEM_TOO_LARGE',
    pointer: '/gpus/count',
    detail: /64 x 4096 x 80 = 20971520 exceeds MAX_PROBLEM_SIZE 262144/,
  },

  // The per-model lookup: query and path parameters.
  { name: 'a lookup without gpus', url: lookup, status: 400, code: 'VALIDATION_FAILED', pointer: '/gpus', in: 'query' },
  {
    name: 'a lookup with gpus not a number',
    url: `${lookup}?gpus=eight`,
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpus',
    in: 'query',
  },
  {
    name: 'a lookup with zero gpus',
    url: `${lookup}?gpus=0`,
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpus',
    in: 'query',
  },
  {
    name: 'a lookup with gpus given twice',
    url: `${lookup}?gpus=4&gpus=8`,
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpus',
    in: 'query',
  },
  {
    name: 'a lookup with an unknown parameter',
    url: `${lookup}?gpus=4&gpu=4`,
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/gpu',
    in: 'query',
    detail: /not a known query parameter/,
  },
  {
    name: 'a lookup with an unknown phase',
    url: `${lookup}?gpus=4&phase=train`,
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/phase',
    in: 'query',
  },
  {
    name: 'a lookup of a malformed model id',
    url: '/v1/models/Llama_3/plan?gpus=4',
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/modelId',
    in: 'path',
  },
  {
    name: 'a lookup of an unknown model',
    url: '/v1/models/gpt-5/plan?gpus=4',
    status: 404,
    code: 'UNKNOWN_MODEL',
    pointer: '/modelId',
    in: 'path',
  },
  {
    name: 'a lookup with an unknown cost model',
    url: `${lookup}?gpus=4&costModel=tpu-v9`,
    status: 404,
    code: 'UNKNOWN_CALIBRATION',
    pointer: '/costModel',
    in: 'query',
  },
  {
    name: 'a lookup whose units do not divide',
    url: `${lookup}?gpus=3`,
    status: 422,
    code: 'UNITS_NOT_DIVISIBLE',
    pointer: '/unitsPerGpu',
    in: 'query',
    detail: /across 3 GPUs/,
  },
  {
    name: 'a lookup above MAX_PROBLEM_SIZE',
    url: `/v1/models/${BIG_MODEL}/plan?gpus=4096`,
    status: 422,
    code: 'PROBLEM_TOO_LARGE',
    pointer: '/gpus',
    in: 'query',
    detail: /MAX_PROBLEM_SIZE 262144/,
  },

  // Other routes.
  {
    name: 'a malformed plan id',
    url: '/v1/plans/not-a-plan',
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/planId',
    in: 'path',
  },
  {
    name: 'a path that is not valid percent-encoding',
    url: '/v1/plans/%E0%A4%A',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'an unknown model detail',
    url: '/v1/models/gpt-5',
    status: 404,
    code: 'UNKNOWN_MODEL',
    pointer: '/modelId',
    in: 'path',
  },
  {
    name: 'a model detail with seqLen 0',
    url: `/v1/models/${SMALL_MODEL}?seqLen=0`,
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/seqLen',
    in: 'query',
  },
  {
    name: 'a model list with a query parameter',
    url: '/v1/models?limit=5',
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/limit',
    in: 'query',
  },
  {
    name: 'budgets with a target above 1',
    method: 'post',
    url: '/v1/budgets',
    body: { target: 2, curves: [{ layer: 0, head: 0, points: [{ budget: 1, recovery: 1 }] }] },
    status: 400,
    code: 'VALIDATION_FAILED',
    pointer: '/target',
  },
  {
    name: 'budgets whose curve never reaches the target',
    method: 'post',
    url: '/v1/budgets',
    body: { target: 0.99, curves: [{ layer: 0, head: 0, points: [{ budget: 16, recovery: 0.5 }] }] },
    status: 422,
    code: 'INVALID_CURVE',
  },
  { name: 'an unknown route', url: '/v2/plans', status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'a method a route does not have', method: 'delete', url: plans, status: 405, code: 'METHOD_NOT_ALLOWED' },
];

describe('every bad input is a problem+json answer with a stable code', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ MAX_BODY_BYTES: '65536' });
  });
  after(() => t.close());

  for (const c of CASES) {
    it(`${c.name}: ${c.status} ${c.code}`, async () => {
      let req = request(t.app)[c.method ?? 'get'](c.url);
      if (c.raw !== undefined) req = req.set('Content-Type', c.type ?? 'application/json').send(c.raw);
      else if (c.body !== undefined) req = req.send(c.body as object);
      const res = await req;
      const problem = assertProblem(res, c.status, c.code);
      if (c.pointer !== undefined) assert.equal(problem.pointer, c.pointer);
      if (c.in !== undefined) assert.equal(problem.in, c.in);
      if (c.detail) assert.match(String(problem.detail), c.detail);
      if (c.pointer !== undefined) assert.equal(typeof problem.rule, 'string');
      assert.equal(problem.requestId, res.headers['x-request-id']);
      assert.equal(problem.type, `urn:hplb:problem:${c.code.toLowerCase().replaceAll('_', '-')}`);
    });
  }

  it('a body over MAX_BODY_BYTES is 413', async () => {
    const costs = Array.from({ length: 5000 }, () => [1, 2, 3, 4, 5, 6, 7, 8]);
    const res = await request(t.app)
      .post(plans)
      .send({ costs, gpus: { count: 2 } });
    const problem = assertProblem(res, 413, 'BODY_TOO_LARGE');
    assert.match(String(problem.detail), /65536 bytes/);
  });

  it('a 405 names the allowed methods', async () => {
    const res = await request(t.app).put(`/v1/models/${SMALL_MODEL}`);
    assertProblem(res, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(res.headers.allow, 'GET, HEAD');
  });

  it('answered none of them with a 5xx', async () => {
    const text = (await request(t.app).get('/metrics')).text;
    const serverErrors = ['500', '502', '503', '504'].reduce(
      (n, status) => n + metricValue(text, 'hplb_http_requests_total', { status }),
      0,
    );
    assert.equal(serverErrors, 0);
    assert.ok(metricValue(text, 'hplb_http_requests_total', { status: '400' }) >= 20);
  });
});
