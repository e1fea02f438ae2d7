/**
 * Request work in slices of the event loop (src/http/work-slicer.ts), on a clock the test moves:
 * a request "takes" the time the test adds when it starts, and turns of the event loop are
 * awaited with setImmediate. Nothing depends on the machine's speed.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Request, Response } from 'express';
import request from 'supertest';
import { createWorkSlicer } from '../../src/http/work-slicer.ts';
import { metricValue, startTestApp } from './helpers.ts';

const SLICE_MS = 5;
/** One turn of the event loop: the check phase, where the slicer starts waiting requests. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function harness() {
  let clock = 0;
  const slicer = createWorkSlicer(SLICE_MS, () => clock);
  const started: string[] = [];
  /** Sends request `name`, whose work takes `ms` on the clock once it starts. */
  const send = (name: string, ms: number, socket = { destroyed: false }): void => {
    const req = { socket } as unknown as Request;
    slicer.handler(req, new EventEmitter() as unknown as Response, () => {
      started.push(name);
      clock += ms;
    });
  };
  return { slicer, started, send };
}

describe('work slicer', () => {
  it('starts work while the turn has done less than a slice; the rest starts on later turns, in order', async () => {
    const { slicer, started, send } = harness();
    send('a', 3);
    send('b', 3);
    send('c', 1);
    send('d', 1);
    assert.deepEqual(started, ['a', 'b'], 'a and b start at once: 3 ms of the 5 ms slice had run when b came');
    assert.equal(slicer.waiting, 2);
    await turn();
    assert.deepEqual(started, ['a', 'b', 'c', 'd'], 'a new turn, a new slice');
    assert.equal(slicer.waiting, 0);
  });

  it('a waiting request goes before one that arrives later, and one slice per turn', async () => {
    const { slicer, started, send } = harness();
    send('a', 6);
    send('b', 6);
    send('c', 6);
    assert.deepEqual(started, ['a']);
    await turn();
    // b opened the new turn's slice and spent it: c waits for the next turn.
    assert.deepEqual(started, ['a', 'b']);
    send('d', 1);
    assert.deepEqual(started, ['a', 'b'], 'd queues behind c');
    await turn();
    assert.deepEqual(started, ['a', 'b', 'c']);
    await turn();
    assert.deepEqual(started, ['a', 'b', 'c', 'd']);
    assert.equal(slicer.waiting, 0);
  });

  it('never starts a request whose client went away while it waited', async () => {
    const { started, send } = harness();
    const gone = { destroyed: false };
    send('a', 6);
    send('b', 1, gone);
    send('c', 1);
    gone.destroyed = true;
    await turn();
    assert.deepEqual(started, ['a', 'c']);
  });

  it('the app counts requests waiting for their turn, and answers all of them', async () => {
    const t = await startTestApp();
    try {
      const metrics = (await request(t.app).get('/metrics')).text;
      assert.equal(metricValue(metrics, 'hplb_requests_waiting_for_turn'), 0);
      const bodies = Array.from({ length: 6 }, (_, i) =>
        request(t.app)
          .post('/v1/budgets')
          .send({ target: 0.9, curves: [{ layer: 0, head: i, points: [{ budget: 64, recovery: 0.95 }] }] }),
      );
      for (const res of await Promise.all(bodies)) assert.equal(res.status, 200);
    } finally {
      await t.close();
    }
  });
});
