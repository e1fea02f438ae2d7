/**
 * The per-connection cap on pipelined requests (MAX_PIPELINED_REQUESTS, guards.ts unreadLimit):
 * solves are held at a gate, so requests stay waiting for their answers for as long as the test
 * needs, and the cap is checked on request counts alone (no timing).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createHttpServer } from '../../src/http/server-options.ts';
import { holdRunner, metricValue, startTestApp, tinyRequest, type HeldRunner, type TestApp } from './helpers.ts';

const CAP = 3;

/** `count` identical plan requests, pipelined in one write. */
function pipelined(count: number): string {
  const body = JSON.stringify(tinyRequest({ solver: { engine: 'greedy' } }));
  const one =
    'POST /v1/plans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return one.repeat(count);
}

describe('pipelined requests per connection', () => {
  let t: TestApp;
  let held!: HeldRunner;
  let server: ReturnType<typeof createHttpServer>;
  let port: number;
  before(async () => {
    t = await startTestApp({ MAX_PIPELINED_REQUESTS: String(CAP) }, 1, null, (pool) => {
      held = holdRunner(pool);
      return held;
    });
    server = createHttpServer(t.app, t.config);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    held.release();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve({ socket, received: () => text, closed }));
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      socket.on('error', () => undefined);
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
    });
  }

  // Without the cap the over-cap connection would wait at the gate: the timeout turns that into a failure.
  it('answers every request of a connection at the cap, and closes one past it unanswered', {
    timeout: 60_000,
  }, async () => {
    const atCap = await open();
    atCap.socket.write(pipelined(CAP));
    await held.arrived;

    const over = await open();
    over.socket.write(pipelined(CAP + 1));
    await over.closed;
    assert.equal(over.received(), '', 'a connection past the cap gets no answer');
    const metrics = (await request(t.app).get('/metrics')).text;
    assert.equal(metricValue(metrics, 'hplb_connections_closed_total', { reason: 'unread' }), 1);
    assert.equal(atCap.socket.destroyed, false, 'the connection at the cap stays open');

    held.release();
    // Each answer starts with its status line, straight after the previous body.
    const statuses = (): number[] => [...atCap.received().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    while (statuses().length < CAP) {
      await new Promise<void>((resolve) => atCap.socket.once('data', () => resolve()));
    }
    assert.deepEqual(statuses(), [201, 201, 201]);
    atCap.socket.destroy();
  });
});
