import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { assertProblem, startTestApp, type TestApp } from './helpers.ts';

describe('GET / (the page)', () => {
  let dir: string;
  let withPage: TestApp;
  let withoutPage: TestApp;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hplb-page-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>hplb</title>');
    withPage = await startTestApp({}, 1, dir);
    withoutPage = await startTestApp({}, 1, null);
  });
  after(async () => {
    await Promise.all([withPage.close(), withoutPage.close()]);
    rmSync(dir, { recursive: true });
  });

  it('serves the page folder at /', async () => {
    const res = await request(withPage.app).get('/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.text, /<title>hplb<\/title>/);
  });

  it('is a 404 problem when the service ships no page, and 405 for other methods', async () => {
    assertProblem(await request(withoutPage.app).get('/'), 404, 'ROUTE_NOT_FOUND');
    const post = await request(withPage.app).post('/').send({});
    assertProblem(post, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(post.headers.allow, 'GET, HEAD');
  });
});
