/**
 * Large bodies handled by body workers answer exactly as bodies parsed on the event loop: the
 * same app is run twice, once without a body pool and once with one that takes every body
 * (BODY_WORKER_THRESHOLD_BYTES=0), and each case must get the same status, headers and problem.
 * Then the pool's bounds: a body that never finishes is refused at the time limit and its worker
 * replaced, and a body that finds the worker busy and the queue full is 503 QUEUE_FULL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { BodyPool } from '../../src/http/body-pool.ts';
import {
  assertProblem,
  assertSchema,
  SMALL_MODEL,
  appsWithAndWithoutBodyPool,
  startTestApp,
  testBodyPool,
  type TestApp,
} from './helpers.ts';

/** The test apps' configuration (startTestApp's defaults included): the pool must share the app's limits. */
const ENV = {
  DEFAULT_TIME_LIMIT_MS: '3000',
  BODY_WORKER_THRESHOLD_BYTES: '0',
  MAX_LAYERS: '64',
  MAX_BODY_CONTAINERS: '500',
};

const curve = (head: number) => ({
  layer: 0,
  head,
  points: [
    { budget: 64, recovery: 0.5 },
    { budget: 1024, recovery: 0.97 },
  ],
});

/** [name, path, raw body text]: every rule a body can break before solving, and good bodies. */
const CASES: readonly (readonly [string, string, string])[] = [
  [
    'a plan from costs',
    '/v1/plans',
    JSON.stringify({ costs: [[4, 3, 2, 1]], gpus: { count: 2 }, solver: { engine: 'greedy' } }),
  ],
  [
    'a plan of a registry model',
    '/v1/plans',
    JSON.stringify({ model: SMALL_MODEL, gpus: { count: 8 }, solver: { engine: 'greedy' } }),
  ],
  [
    'a re-plan from a previous placement',
    '/v1/plans',
    JSON.stringify({
      costs: [[4, 3, 2, 1]],
      gpus: { count: 2 },
      previous: { unit2gpu: [[1, 1, 0, 0]] },
      migration: { makespanTolerance: 0.5 },
      solver: { engine: 'greedy' },
    }),
  ],
  [
    'a previous placement that does not fit',
    '/v1/plans',
    JSON.stringify({ costs: [[4, 3, 2, 1]], gpus: { count: 2 }, previous: { unit2gpu: [[1, 1]] } }),
  ],
  ['budgets', '/v1/budgets', JSON.stringify({ target: 0.9, curves: [curve(0), curve(1)] })],
  ['malformed JSON', '/v1/plans', '{"costs": [[1, 2]'],
  ['a bare number (strict JSON)', '/v1/plans', '  42'],
  ['a bare string on budgets', '/v1/budgets', '"x"'],
  ['an unknown property', '/v1/plans', JSON.stringify({ costs: [[1]], gpus: { count: 1 }, extra: 1 })],
  ['a missing source', '/v1/plans', JSON.stringify({ gpus: { count: 1 } })],
  [
    'too many layers',
    '/v1/plans',
    JSON.stringify({ costs: Array.from({ length: 65 }, () => [1]), gpus: { count: 1 } }),
  ],
  [
    'too many containers',
    '/v1/plans',
    JSON.stringify({ costs: Array.from({ length: 600 }, () => [1]), gpus: { count: 1 } }),
  ],
  ['nesting too deep', '/v1/plans', `${'['.repeat(40)}${']'.repeat(40)}`],
  ['an unknown model', '/v1/plans', JSON.stringify({ model: 'no-such-model', gpus: { count: 1 } })],
  ['an unknown cost model', '/v1/plans', JSON.stringify({ model: SMALL_MODEL, gpus: { count: 8 }, costModel: 'nope' })],
  ['units not divisible', '/v1/plans', JSON.stringify({ costs: [[1, 2, 3]], gpus: { count: 2 } })],
  ['overflowing costs', '/v1/plans', JSON.stringify({ costs: [[1e308, 1e308]], gpus: { count: 2 } })],
  ['a target out of range', '/v1/budgets', JSON.stringify({ target: 2, curves: [curve(0)] })],
  ['a curve that misses the target', '/v1/budgets', JSON.stringify({ target: 0.99, curves: [curve(0)] })],
];

/** What must be identical between the two apps (request ids and solve times differ). */
function comparable(path: string, res: request.Response): unknown {
  const body = { ...(res.body as Record<string, unknown>) };
  delete body.requestId;
  const plan = res.status === 200 || res.status === 201;
  return {
    status: res.status,
    type: res.headers['content-type'],
    location: res.headers.location,
    body:
      plan && path === '/v1/plans' ? { id: body.id, makespan: (body.totals as { makespan: number }).makespan } : body,
  };
}

describe('body workers', () => {
  const apps = appsWithAndWithoutBodyPool(ENV);

  const send = (t: TestApp, path: string, text: string, headers: Record<string, string> = {}) =>
    request(t.app).post(path).set('Content-Type', 'application/json').set(headers).send(text);

  /** Per-model lookups: their implied request names a model, so it is normalised by the body worker too. */
  const LOOKUPS = [
    `/v1/models/${SMALL_MODEL}/plan?gpus=8&engine=greedy&seqLen=8192`,
    `/v1/models/${SMALL_MODEL}/plan?gpus=3&engine=greedy`,
    `/v1/models/${SMALL_MODEL}/plan?gpus=8&engine=greedy&costModel=nope`,
    `/v1/models/${SMALL_MODEL}/plan?gpus=8&engine=greedy&previous=0123456789abcdef0123456789abcdef`,
  ];
  for (const path of LOOKUPS) {
    it(`answers the lookup ${path.split('?')[1]} as the event loop does`, async () => {
      const here = await request(apps.inThread.app).get(path);
      const there = await request(apps.offloaded.app).get(path);
      assert.deepEqual(comparable('/v1/plans', there), comparable('/v1/plans', here));
    });
  }

  for (const [name, path, text] of CASES) {
    it(`answers ${name} as the event loop does`, async () => {
      const here = await send(apps.inThread, path, text);
      const there = await send(apps.offloaded, path, text);
      assert.deepEqual(comparable(path, there), comparable(path, here));
      if (there.status >= 400) assertProblem(there, there.status, String(there.body.code));
      else if (path === '/v1/budgets') assertSchema('BudgetsResponse', there.body);
    });
  }
});

describe('body pool bounds', () => {
  const HANGING = new URL('./fixtures/hanging-body-worker.ts', import.meta.url);
  let t: TestApp;
  let pool: BodyPool;
  const restarts: string[] = [];
  before(async () => {
    pool = testBodyPool(ENV, {
      maxQueued: 0,
      timeLimitMs: 300,
      workerFile: HANGING,
      onWorkerRestart: (reason) => restarts.push(reason),
    });
    await pool.ready();
    t = await startTestApp(ENV, 1, null, undefined, { bodyPool: pool });
  });
  after(async () => {
    await Promise.all([t.close(), pool.close()]);
  });

  it('refuses a body past the time limit, answers 503 QUEUE_FULL meanwhile, and serves again after', async () => {
    const hang = request(t.app)
      .post('/v1/plans')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ model: 'hang', gpus: { count: 1 } }))
      .then((res) => res);
    while (pool.busy === 0) await new Promise((resolve) => setImmediate(resolve));

    const refused = await request(t.app)
      .post('/v1/budgets')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ target: 0.9, curves: [curve(0)] }));
    assertProblem(refused, 503, 'QUEUE_FULL');
    assert.match(String(refused.headers['retry-after']), /^\d+$/);

    const problem = assertProblem(await hang, 422, 'PROBLEM_TOO_LARGE');
    assert.equal(problem.rule, 'bodyTimeLimit');
    assert.deepEqual(restarts, ['body worker over its time limit']);

    await pool.ready();
    const served = await request(t.app)
      .post('/v1/budgets')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ target: 0.9, curves: [curve(0)] }));
    assert.equal(served.status, 200);
    assertSchema('BudgetsResponse', served.body);
  });
});
