import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createHttpServer } from '../../src/http/server-options.ts';
import { assertProblem, assertSchema, metricValue, startTestApp, tinyRequest, type TestApp } from './helpers.ts';

const KEY = 'test-key-0123456789abcdef';

describe('problem bounds', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({
      MAX_LAYERS: '8',
      MAX_UNITS: '16',
      MAX_LAYER_UNITS: '32',
      MAX_PINS: '6',
      MAX_PLAN_BYTES: '4096',
    });
  });
  after(() => t.close());

  const cases: [string, Record<string, unknown>, string, string, RegExp][] = [
    [
      'layers',
      { costs: Array.from({ length: 9 }, () => [1, 1]), gpus: { count: 2 } },
      'maxLayers',
      '/costs',
      /layers = 9 exceeds MAX_LAYERS 8/,
    ],
    [
      'units per layer',
      { costs: [new Array(17).fill(1)], gpus: { count: 1 } },
      'maxUnits',
      '/costs',
      /= 17 exceeds MAX_UNITS 16/,
    ],
    [
      'layers x units',
      { costs: Array.from({ length: 4 }, () => new Array(9).fill(1)), gpus: { count: 1 } },
      'maxLayerUnits',
      '/costs',
      /4 x 9 = 36 exceeds MAX_LAYER_UNITS 32/,
    ],
    [
      'pins counted per layer',
      {
        costs: [
          [1, 1],
          [1, 1],
          [1, 1],
          [1, 1],
        ],
        gpus: { count: 2 },
        constraints: {
          unitsPerGpu: 'free',
          pins: [
            { unit: 0, gpu: 0 },
            { unit: 1, gpu: 1 },
          ],
        },
      },
      'maxPins',
      '/constraints/pins',
      /= 8 exceeds MAX_PINS 6/,
    ],
    [
      'pins in the body',
      { costs: [[1, 1]], gpus: { count: 2 }, constraints: { pins: new Array(7).fill({ unit: 0, gpu: 0 }) } },
      'maxPins',
      '/constraints/pins',
      /pins = 7 exceeds MAX_PINS 6/,
    ],
    [
      'predicted plan size',
      { costs: Array.from({ length: 8 }, () => new Array(4).fill(1)), gpus: { count: 4 } },
      'maxPlanBytes',
      '/costs',
      /predicted plan size in bytes = \d+ exceeds MAX_PLAN_BYTES 4096/,
    ],
    [
      'a registry model',
      { model: 'llama-3-8b-instruct-262k-minference', gpus: { count: 8 } },
      'maxLayers',
      '/model',
      /layers = 32 exceeds MAX_LAYERS 8/,
    ],
  ];
  for (const [name, body, rule, pointer, detail] of cases) {
    it(`refuses a problem above its bound on ${name} with 422 PROBLEM_TOO_LARGE naming the bound and the value`, async () => {
      const res = await request(t.app).post('/v1/plans').send(body);
      const problem = assertProblem(res, 422, 'PROBLEM_TOO_LARGE');
      assert.equal(problem.rule, rule);
      assert.equal(problem.pointer, pointer);
      assert.match(String(problem.detail), detail);
    });
  }

  it('answers a problem within every bound', async () => {
    const res = await request(t.app)
      .post('/v1/plans')
      .send({
        costs: [
          [4, 3, 2, 1],
          [1, 2, 3, 4],
        ],
        gpus: { count: 2 },
        solver: { engine: 'greedy' },
      });
    assert.equal(res.status, 201);
    assertSchema('Plan', res.body);
  });
});

describe('numbers are finite or refused', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('refuses costs whose loads would overflow, before GLPK sees them', async () => {
    const res = await request(t.app)
      .post('/v1/plans')
      .send({ costs: [[1e308, 1e308, 1e308, 1e308]], gpus: { count: 2 }, solver: { engine: 'ilp' } });
    const problem = assertProblem(res, 422, 'INVALID_PROBLEM');
    assert.equal(problem.rule, 'finiteTotal');
    assert.equal(problem.pointer, '/costs');
  });

  it('keeps large finite costs finite in every number of the plan', async () => {
    const res = await request(t.app)
      .post('/v1/plans')
      .send({ costs: [[1e290, 3e290, 2e290, 1e290]], gpus: { count: 2 }, solver: { engine: 'ilp' } });
    assert.equal(res.status, 201);
    assertSchema('Plan', res.body);
    assert.ok(Number.isFinite(res.body.totals.makespan));
  });

  for (const [name, path, body] of [
    ['a GPU speed of 5e-324', '/v1/plans', { costs: [[1, 2]], gpus: { count: 2, speeds: [5e-324, 1] } }],
    ['a GPU speed of 1e308', '/v1/plans', { costs: [[1, 2]], gpus: { count: 2, speeds: [1e308, 1] } }],
    [
      'a budgets seqLen of 1e308',
      '/v1/budgets',
      {
        target: 0.9,
        workload: { seqLen: 1e308, phase: 'prefill' },
        curves: [{ layer: 0, head: 0, points: [{ budget: 64, recovery: 0.95 }] }],
      },
    ],
  ] as const) {
    it(`refuses ${name} with 400 naming the field`, async () => {
      const res = await request(t.app).post(path).send(body);
      const problem = assertProblem(res, 400, 'VALIDATION_FAILED');
      assert.match(String(problem.pointer), /^\/(gpus\/speeds\/0|workload\/seqLen)$/);
    });
  }
});

describe('API keys', () => {
  let t: TestApp;
  let reads: TestApp;
  before(async () => {
    t = await startTestApp({ API_KEYS: `other-key-0123456789,${KEY}` });
    reads = await startTestApp({ API_KEYS: KEY, AUTH_READS: 'true' });
  });
  after(async () => {
    await t.close();
    await reads.close();
  });

  for (const [name, path] of [
    ['POST /v1/plans', '/v1/plans'],
    ['POST /v1/budgets', '/v1/budgets'],
  ] as const) {
    it(`${name} without a key is 401 with WWW-Authenticate`, async () => {
      const res = await request(t.app).post(path).send(tinyRequest());
      assertProblem(res, 401, 'UNAUTHORIZED');
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="hplb"');
    });
  }

  it('a wrong key is 401 with error="invalid_token"; a configured key passes', async () => {
    const wrong = await request(t.app)
      .post('/v1/plans')
      .set('Authorization', 'Bearer not-the-key-0123456789')
      .send(tinyRequest());
    assertProblem(wrong, 401, 'UNAUTHORIZED');
    assert.match(wrong.headers['www-authenticate'] ?? '', /error="invalid_token"/);
    const ok = await request(t.app).post('/v1/plans').set('Authorization', `Bearer ${KEY}`).send(tinyRequest());
    assert.equal(ok.status, 201);
    const open = await request(t.app).get(`/v1/plans/${ok.body.id}`);
    assert.equal(open.status, 200, 'reads of stored plans stay open by default');
  });

  it('/metrics needs a key; probes never do', async () => {
    assertProblem(await request(t.app).get('/metrics'), 401, 'UNAUTHORIZED');
    assert.equal((await request(t.app).get('/metrics').set('Authorization', `Bearer ${KEY}`)).status, 200);
    assert.equal((await request(t.app).get('/livez')).status, 200);
    assert.equal((await request(t.app).get('/readyz')).status, 200);
  });

  it('with AUTH_READS=true, plan and model reads need a key too', async () => {
    for (const path of [
      '/v1/models',
      '/v1/models/llama-3-8b-instruct-262k-minference',
      '/v1/plans/0123456789abcdef0123456789abcdef',
    ]) {
      assertProblem(await request(reads.app).get(path), 401, 'UNAUTHORIZED');
    }
    assert.equal((await request(reads.app).get('/v1/models').set('Authorization', `Bearer ${KEY}`)).status, 200);
  });
});

describe('rate limit on POST routes', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
  });
  after(() => t.close());

  it('answers 429 RATE_LIMITED with Retry-After and RateLimit headers past the quota, and counts it', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await request(t.app).post('/v1/plans').send(tinyRequest());
      assert.ok(res.status < 300, String(res.status));
      assert.match(res.headers['ratelimit-policy'] ?? '', /q=2; ?w=60/);
      assert.match(res.headers.ratelimit ?? '', /r=\d+/);
    }
    const limited = await request(t.app)
      .post('/v1/budgets')
      .send({ target: 0.9, curves: [{ layer: 0, head: 0, points: [{ budget: 64, recovery: 0.95 }] }] });
    assertProblem(limited, 429, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal((await request(t.app).get('/livez')).status, 200, 'reads are not limited');
    const text = (await request(t.app).get('/metrics')).text;
    assert.equal(metricValue(text, 'hplb_plan_rejected_total', { reason: 'rate_limited' }), 1);
  });
});

describe('the HTTP server itself', () => {
  let t: TestApp;
  let server: ReturnType<typeof createHttpServer>;
  let port: number;
  before(async () => {
    t = await startTestApp();
    server = createHttpServer(t.hplb.handler, { ...t.config, headersTimeoutMs: 200, requestTimeoutMs: 300 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  /** Writes raw bytes and reads until the server closes the connection. */
  function raw(bytes: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(bytes);
    });
  }

  function parse(answer: string): { status: number; headers: string; body: Record<string, unknown> } {
    const [head, body] = answer.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), headers: head, body: JSON.parse(body) as Record<string, unknown> };
  }

  for (const [name, bytes, status, code] of [
    [
      'Content-Length with Transfer-Encoding',
      'POST /v1/plans HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    ['a folded header', 'GET /livez HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['HTTP/9.9', 'GET /livez HTTP/9.9\r\nHost: x\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    [
      'a 20 kB header',
      `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'HEADERS_TOO_LARGE',
    ],
    ['headers that never end', 'GET /livez HTTP/1.1\r\nHost: x\r\n', 408, 'REQUEST_TIMEOUT'],
  ] as const) {
    it(`answers ${name} with ${status} problem+json and closes the connection`, async () => {
      const answer = parse(await raw(bytes));
      assert.equal(answer.status, status);
      assert.match(answer.headers, /Content-Type: application\/problem\+json/);
      assert.match(answer.headers, /Connection: close/);
      assert.equal(answer.body.code, code);
      assert.equal(answer.body.status, status);
    });
  }

  it('carries the configured timeouts and caps', () => {
    assert.equal(server.headersTimeout, 200);
    assert.equal(server.requestTimeout, 300);
    assert.equal(server.keepAliveTimeout, t.config.keepAliveTimeoutMs);
    assert.equal(server.maxConnections, t.config.maxConnections);
    assert.equal(server.maxRequestsPerSocket, t.config.maxRequestsPerSocket);
  });
});
