/**
 * The per-connection cap on pipelined requests (MAX_PIPELINED_REQUESTS, connection-guard.ts),
 * and one request at a time per connection: solves are held at a gate, so requests stay waiting
 * for their answers for as long as the test needs, and everything is checked on counts (no timing).
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

interface RawClient {
  readonly socket: Socket;
  received(): string;
  readonly closed: Promise<void>;
}

function open(port: number): Promise<RawClient> {
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

/** The statuses answered so far, in order: each answer starts with its status line. */
const statuses = (client: RawClient): number[] =>
  [...client.received().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

async function untilAnswered(client: RawClient, count: number): Promise<number[]> {
  while (statuses(client).length < count) {
    await new Promise<void>((resolve) => client.socket.once('data', () => resolve()));
  }
  return statuses(client);
}

async function listen(app: TestApp): Promise<{ server: ReturnType<typeof createHttpServer>; port: number }> {
  const server = createHttpServer(app.hplb.handler, app.config);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function stop(server: ReturnType<typeof createHttpServer>): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** The app on a listening server, its solves held at a gate; stopped after the suite. */
function heldServer(env: Record<string, string>): { t: TestApp; held: HeldRunner; port: number } {
  const state = {} as { t: TestApp; held: HeldRunner; port: number };
  let server: ReturnType<typeof createHttpServer>;
  before(async () => {
    state.t = await startTestApp({ MAX_PIPELINED_REQUESTS: String(CAP), ...env }, 1, null, (pool) => {
      state.held = holdRunner(pool);
      return state.held;
    });
    ({ server, port: state.port } = await listen(state.t));
  });
  after(async () => {
    state.held.release();
    await stop(server);
    await state.t.close();
  });
  return state;
}

describe('pipelined requests per connection', () => {
  const s = heldServer({});

  // Without the cap the over-cap connection would wait at the gate: the timeout turns that into a failure.
  it('answers every request of a connection at the cap, and closes one past it unanswered', {
    timeout: 60_000,
  }, async () => {
    const { t, held, port } = s;
    const atCap = await open(port);
    atCap.socket.write(pipelined(CAP));
    await held.arrived;

    const over = await open(port);
    over.socket.write(pipelined(CAP + 1));
    await over.closed;
    assert.equal(over.received(), '', 'a connection past the cap gets no answer');
    const metrics = (await request(t.app).get('/metrics')).text;
    assert.equal(metricValue(metrics, 'hplb_connections_closed_total', { reason: 'unread' }), 1);
    assert.equal(atCap.socket.destroyed, false, 'the connection at the cap stays open');

    held.release();
    // One at a time: the second and third find the plan the first created.
    assert.deepEqual(await untilAnswered(atCap, CAP), [201, 200, 200]);
    atCap.socket.destroy();
  });
});

describe('one request at a time per connection', () => {
  // One POST per client per window: the rate limiter's rejections show which requests were handled.
  const s = heldServer({ RATE_LIMIT_MAX: '1' });

  it('starts a pipelined request only after the answer before it is written', { timeout: 60_000 }, async () => {
    const { t, held, port } = s;
    const client = await open(port);
    client.socket.write(pipelined(CAP));
    await held.arrived;
    // Handled at once, the two requests behind the held solve would be refused by the rate limiter
    // straight away; /metrics is read through the same app after they were parsed.
    const rejected = async (): Promise<number> =>
      metricValue((await request(t.app).get('/metrics')).text, 'hplb_plan_rejected_total', { reason: 'rate_limited' });
    const probe = await open(port);
    probe.socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    await untilAnswered(probe, 1);
    assert.equal(await rejected(), 0, 'nothing behind the held solve was handled');
    assert.equal(client.received(), '');

    held.release();
    assert.deepEqual(await untilAnswered(client, CAP), [201, 429, 429]);
    assert.equal(await rejected(), 2);
    client.socket.destroy();
    probe.socket.destroy();
  });
});
