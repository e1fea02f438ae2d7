import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createAdmission } from '../../src/http/admission.ts';
import { HplbError } from '../../src/errors.ts';
import {
  assertProblem,
  holdRunner,
  metricValue,
  startTestApp,
  tinyRequest,
  type HeldRunner,
  type TestApp,
} from './helpers.ts';

const deferred = (): { promise: Promise<void>; resolve: () => void } => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe('createAdmission', () => {
  it('runs up to maxConcurrent jobs, queues up to maxQueued, refuses the rest with QUEUE_FULL', async () => {
    const admission = createAdmission({ maxConcurrent: 1, maxQueued: 1 });
    const gate = deferred();
    const order: string[] = [];
    const first = admission.run(async () => {
      order.push('first');
      await gate.promise;
    });
    const second = admission.run(async () => {
      order.push('second');
    });
    assert.equal(admission.inFlight, 1);
    assert.equal(admission.queued, 1);
    await assert.rejects(
      admission.run(async () => undefined),
      (e: unknown) => e instanceof HplbError && e.code === 'QUEUE_FULL',
    );
    assert.ok(admission.retryAfterSeconds() >= 1);
    gate.resolve();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first', 'second']);
    assert.equal(admission.inFlight, 0);
    assert.equal(admission.queued, 0);
  });

  it('a job whose deadline passes while it waits leaves the queue and runs at once, without a slot', async () => {
    const admission = createAdmission({ maxConcurrent: 1, maxQueued: 2 });
    const gate = deferred();
    const order: string[] = [];
    const first = admission.run(async () => {
      order.push('first');
      await gate.promise;
    });
    const deadline = new AbortController();
    const late = admission.run(async () => {
      order.push('late');
      return 'answered';
    }, deadline.signal);
    const third = admission.run(async () => {
      order.push('third');
    });
    assert.equal(admission.queued, 2);
    deadline.abort();
    assert.equal(await late, 'answered');
    assert.deepEqual(order, ['first', 'late']);
    assert.equal(admission.inFlight, 1, 'the late job took no slot');
    assert.equal(admission.queued, 1);
    gate.resolve();
    await Promise.all([first, third]);
    assert.deepEqual(order, ['first', 'late', 'third']);
    assert.equal(admission.inFlight, 0);
    assert.equal(await admission.run(async () => 'past', AbortSignal.abort()), 'past', 'a free slot is taken as usual');
  });

  it('frees the slot when a job fails', async () => {
    const admission = createAdmission({ maxConcurrent: 1, maxQueued: 0 });
    await assert.rejects(
      admission.run(async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await admission.run(async () => 42), 42);
  });
});

describe('a full plan queue over HTTP', () => {
  let t: TestApp;
  let held: HeldRunner;
  before(async () => {
    t = await startTestApp(
      { MAX_CONCURRENT_PLANS: '1', MAX_QUEUED_PLANS: '0' },
      1,
      null,
      (pool) => (held = holdRunner(pool)),
    );
  });
  after(() => t.close());

  it('answers 503 QUEUE_FULL with Retry-After while the slot is taken, then solves again', async () => {
    const first = request(t.app)
      .post('/v1/plans')
      .send(tinyRequest())
      .then((r) => r);
    // The first plan holds the only slot until the gate opens.
    await held.arrived;
    const refused = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ gpus: { count: 4 } }));
    const problem = assertProblem(refused, 503, 'QUEUE_FULL');
    assert.match(String(problem.detail), /limits 1 and 0/);
    assert.match(refused.headers['retry-after'], /^[1-9]\d*$/);
    const lookup = await request(t.app).get('/v1/models/llama-3-8b-instruct-262k-minference/plan?gpus=2');
    assertProblem(lookup, 503, 'QUEUE_FULL');
    assert.equal(metricValue((await request(t.app).get('/metrics')).text, 'hplb_plans_in_flight'), 1);

    held.release();
    assert.equal((await first).status, 201);
    const retried = await request(t.app)
      .post('/v1/plans')
      .send(tinyRequest({ gpus: { count: 4 } }));
    assert.equal(retried.status, 201);
    const text = (await request(t.app).get('/metrics')).text;
    assert.equal(metricValue(text, 'hplb_plan_rejected_total', { reason: 'queue_full' }), 2);
    assert.equal(metricValue(text, 'hplb_plans_in_flight'), 0);
  });
});
