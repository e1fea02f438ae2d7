/**
 * Reading large bodies for body workers (src/http/routes/large-body.ts): chunk by chunk into one
 * buffer, with body-parser's errors. Driven by a request stand-in that emits the events an
 * IncomingMessage emits, and over the real app for a compressed body (left to body-parser).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Request } from 'express';
import request from 'supertest';
import type { BodyPool } from '../../src/http/body-pool.ts';
import { readLargeBody } from '../../src/http/routes/large-body.ts';
import { startTestApp, testBodyPool, type TestApp } from './helpers.ts';

/** A request stand-in: headers, and the data/end/close events the test emits. */
function fakeRequest(
  headers: Record<string, string>,
): EventEmitter & { headers: Record<string, string>; complete: boolean; resume(): void } {
  return Object.assign(new EventEmitter(), { headers, complete: false, resume: () => undefined });
}

function read(req: EventEmitter, limit: number): Promise<{ error: Error | null; body?: Buffer }> {
  return new Promise((resolve) =>
    readLargeBody(req as unknown as Request, limit, (error, body) => resolve({ error, body })),
  );
}

const chunks = [Buffer.from('{"a":'), Buffer.from('[1,2,'), Buffer.from('3]}')];
const whole = Buffer.concat(chunks);

describe('large body reader', () => {
  it('fills one buffer of the declared length, which owns its memory (transferable as is)', async () => {
    const req = fakeRequest({ 'content-length': String(whole.length) });
    const reading = read(req, 1000);
    for (const c of chunks) req.emit('data', c);
    req.emit('end');
    const { error, body } = await reading;
    assert.equal(error, null);
    assert.deepEqual(body, whole);
    assert.equal(body!.byteOffset, 0);
    assert.equal(body!.byteLength, body!.buffer.byteLength);
  });

  it('reads a body of declared length into the staging buffer it is given', async () => {
    const req = fakeRequest({ 'content-length': String(whole.length) });
    const staging = Buffer.alloc(100);
    const reading = new Promise<{ error: Error | null; body?: Buffer }>((resolve) =>
      readLargeBody(
        req as unknown as Request,
        1000,
        (error, body) => resolve({ error, body }),
        (length) => staging.subarray(0, length),
      ),
    );
    for (const c of chunks) req.emit('data', c);
    req.emit('end');
    const { body } = await reading;
    assert.deepEqual(body, whole);
    assert.equal(body!.buffer, staging.buffer, 'no buffer of its own');
  });

  it('reads a body of unknown length, up to the limit', async () => {
    const req = fakeRequest({ 'transfer-encoding': 'chunked' });
    const reading = read(req, 1 << 20);
    const many = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1000, i % 256));
    for (const c of many) req.emit('data', c);
    req.emit('end');
    assert.deepEqual((await reading).body, Buffer.concat(many));
  });

  it('a declared length over the limit is 413 entity.too.large once the body has been read off', async () => {
    const req = fakeRequest({ 'content-length': '2000' });
    let answered = false;
    const reading = read(req, 1000).then((r) => {
      answered = true;
      return r;
    });
    await Promise.resolve();
    assert.equal(answered, false, 'not before the body is read off');
    req.emit('end');
    const { error } = await reading;
    assert.equal((error as { type?: string }).type, 'entity.too.large');
    assert.equal((error as { limit?: number }).limit, 1000);
  });

  it('an undeclared length that passes the limit is 413 too', async () => {
    const req = fakeRequest({ 'transfer-encoding': 'chunked' });
    const reading = read(req, 10);
    req.emit('data', Buffer.alloc(8));
    req.emit('data', Buffer.alloc(8));
    req.emit('end');
    assert.equal(((await reading).error as { type?: string }).type, 'entity.too.large');
  });

  it('more or fewer bytes than declared is request.size.invalid; closed mid-body is request.aborted', async () => {
    const more = fakeRequest({ 'content-length': '4' });
    const moreRead = read(more, 100);
    more.emit('data', Buffer.from('12345'));
    assert.equal(((await moreRead).error as { type?: string }).type, 'request.size.invalid');

    const fewer = fakeRequest({ 'content-length': '4' });
    const fewerRead = read(fewer, 100);
    fewer.emit('data', Buffer.from('12'));
    fewer.emit('end');
    assert.equal(((await fewerRead).error as { type?: string }).type, 'request.size.invalid');

    const cut = fakeRequest({ 'content-length': '4' });
    const cutRead = read(cut, 100);
    cut.emit('data', Buffer.from('12'));
    cut.emit('close');
    assert.equal(((await cutRead).error as { type?: string }).type, 'request.aborted');
  });
});

describe('large bodies over the app', () => {
  let t: TestApp;
  let pool: BodyPool;
  before(async () => {
    const env = { BODY_WORKER_THRESHOLD_BYTES: '0' };
    pool = testBodyPool(env);
    await pool.ready();
    t = await startTestApp(env, 1, null, undefined, { bodyPool: pool });
  });
  after(async () => {
    await t.close();
    await pool.close();
  });

  it("a body's staging buffer comes back with its answer and takes the next body", async () => {
    const body = (head: number) =>
      JSON.stringify({ target: 0.9, curves: [{ layer: 0, head, points: [{ budget: 64, recovery: 0.95 }] }] });
    const send = (text: string) =>
      request(t.app).post('/v1/budgets').set('content-type', 'application/json').send(text);
    const before = pool.freeStaging;
    assert.equal((await send(body(1))).status, 200);
    assert.equal(pool.freeStaging, Math.max(before, 1), 'handed back with the answer');
    assert.equal((await send(body(2))).status, 200);
    // A new buffer for the second body would leave two free now.
    assert.equal(pool.freeStaging, Math.max(before, 1));
  });

  it('a compressed body is inflated as before, with the same answer as the plain one', async () => {
    const body = { target: 0.9, curves: [{ layer: 0, head: 0, points: [{ budget: 64, recovery: 0.95 }] }] };
    const plain = await request(t.app)
      .post('/v1/budgets')
      .set('content-type', 'application/json')
      .send(JSON.stringify(body));
    const zipped = await request(t.app)
      .post('/v1/budgets')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      // Sent as is: superagent would serialise a Buffer under a JSON content type (its typing says string).
      .serialize((bytes: Buffer) => bytes as unknown as string)
      .send(gzipSync(JSON.stringify(body)));
    assert.equal(plain.status, 200);
    assert.equal(zipped.status, 200);
    assert.deepEqual(zipped.body, plain.body);
  });
});
