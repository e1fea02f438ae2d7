import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/http/metrics.ts';
import type { Plan } from '../../src/planner/plan.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createPlanEntry, previousOf, type PlanEntry } from '../../src/store/plan-entry.ts';
import { decodeRecord, encodeRecord } from '../../src/store/redis-records.ts';
import { metricValue } from '../http/helpers.ts';

/** A plan with what an entry reads of it: its shape and each layer's unit2gpu (given, or none). */
const plan = (id: string, layers: object[] = []): Plan =>
  ({
    id,
    model: { id: null },
    gpus: { count: 2 },
    granularity: 'query-head',
    layers: layers.map((l) => ({ unit2gpu: [], ...l })),
  }) as unknown as Plan;

describe('the memory store', () => {
  const newMetrics = () =>
    createMetrics({ plans: () => ({ inFlight: 0, queued: 0 }), solver: () => ({ queueDepth: 0, busy: 0 }) });

  it('keeps entries by id and by lookup key, expires them after the TTL and counts evictions', async () => {
    let now = 5000;
    const metrics = newMetrics();
    const cache = createMemoryStore({
      maxEntries: 2,
      maxBytes: 1 << 20,
      ttlMs: 1000,
      metrics: metrics.storeMetrics,
      now: () => now,
    });
    const a = await createPlanEntry(plan('a'));
    await cache.set(a, 'key-a');
    assert.equal(cache.peek('a'), a);
    assert.equal(cache.peekLookup('key-a'), a);
    now = 6001;
    assert.equal(cache.peek('a'), undefined);
    assert.equal(cache.peekLookup('key-a'), undefined);
    await cache.set(await createPlanEntry(plan('b')));
    await cache.set(await createPlanEntry(plan('c')));
    await cache.set(await createPlanEntry(plan('d')));
    assert.equal(cache.peek('b'), undefined);
    assert.ok(cache.peek('d'));
    const text = await metrics.registry.metrics();
    assert.ok(metricValue(text, 'hplb_plan_cache_evictions_total', { cache: 'plans' }) >= 2);
    assert.equal(metricValue(text, 'hplb_plan_cache_hits_total', { cache: 'lookups' }), 1);
  });

  it('is bounded by the bytes of the bodies it holds, evicting the least recently used', async () => {
    const metrics = newMetrics();
    const big = (id: string) => createPlanEntry(plan(id, [{ filler: 'x'.repeat(40_000) }]));
    const cache = createMemoryStore({
      maxEntries: 1000,
      maxBytes: 100_000,
      ttlMs: 60_000,
      metrics: metrics.storeMetrics,
    });
    for (const id of ['a', 'b', 'c', 'd']) await cache.set(await big(id), `key-${id}`);
    assert.ok(cache.bytes().plans <= 100_000, `${cache.bytes().plans} bytes held`);
    assert.equal(cache.peek('a'), undefined);
    assert.equal(cache.peekLookup('key-a'), undefined, 'a lookup of an evicted plan is a miss');
    assert.ok(cache.peek('d'));
    assert.equal(
      metricValue(await metrics.registry.metrics(), 'hplb_plan_cache_evictions_total', { cache: 'plans' }),
      2,
    );
  });

  it('counts the bytes its entries keep alive, so that maxBytes bounds them', async () => {
    // Small bodies: Buffer.concat would put each into Node's shared 8 KiB pool.
    const entries = await Promise.all(
      Array.from({ length: 40 }, (_, i) => createPlanEntry(plan(`small-${i}`, [{ unit2gpu: [i % 2, 1] }]))),
    );
    // A record read from Redis: every field a view into the socket read that carried it.
    const read = Buffer.alloc(64 * 1024);
    let at = 0;
    const views = encodeRecord(await createPlanEntry(plan('from-redis', [{ unit2gpu: [0, 1] }]))).map((field) => {
      const view = read.subarray(at, at + field.length);
      field.copy(view);
      at += field.length;
      return view;
    });
    const fromRedis = decodeRecord('from-redis', views);
    assert.ok(fromRedis);
    const maxBytes = 16 * 1024;
    const cache = createMemoryStore({ maxEntries: 1000, maxBytes, ttlMs: 60_000 });
    for (const entry of [...entries, fromRedis]) await cache.set(entry);
    const held = [...entries, fromRedis].filter((entry) => cache.peek(entry.id) === entry);
    assert.ok(held.length > 1, `${held.length} entries held`);
    // An entry pins its whole backing stores for as long as it alone is held: each is charged for them.
    const retained = held.reduce(
      (sum, entry) => sum + entry.body.buffer.byteLength + entry.unit2gpu.buffer.byteLength,
      0,
    );
    assert.ok(retained <= cache.bytes().plans, `${retained} bytes retained, ${cache.bytes().plans} counted`);
    assert.ok(cache.bytes().plans <= maxBytes, `${cache.bytes().plans} bytes counted`);
    assert.equal(fromRedis.body.buffer.byteLength, fromRedis.body.length, 'the body read from Redis is a copy');
    assert.deepEqual(fromRedis.body, views[5]);
  });

  it('counts the keys and plan ids its lookups hold', async () => {
    const cache = createMemoryStore({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000 });
    const entry = await createPlanEntry(plan('a'));
    await cache.set(entry, 'short');
    const one = cache.bytes().lookups;
    assert.ok(one >= 2 * ('short'.length + entry.id.length), `${one} bytes for one lookup`);
    // A lookup's key is its normalised query: a long workload mix makes a long key.
    const long = `mix=${'decode:131072:1,'.repeat(600)}`;
    await cache.set(entry, long);
    assert.ok(cache.bytes().lookups - one >= 2 * long.length, `${cache.bytes().lookups - one} bytes for a long key`);
    assert.equal(cache.peekLookup(long), entry);
  });

  it('renders the body once and tags it with a strong ETag of its bytes', async () => {
    const one = await createPlanEntry(plan('a'));
    assert.equal(
      one.body.toString('utf8'),
      '{"id":"a","model":{"id":null},"gpus":{"count":2},"granularity":"query-head","layers":[]}',
    );
    assert.match(one.etag, /^"[\w-]{27}"$/);
    assert.equal((await createPlanEntry(plan('a'))).etag, one.etag);
    assert.notEqual((await createPlanEntry(plan('b'))).etag, one.etag);
  });

  it('writes a plan of many layers in slices and the same JSON as JSON.stringify', async () => {
    const layers = Array.from({ length: 300 }, (_, i) => ({
      layer: i,
      unit2gpu: new Array(400).fill(i % 7),
      note: 'é',
    }));
    const entry = await createPlanEntry(plan('big', layers));
    assert.deepEqual(JSON.parse(entry.body.toString('utf8')), { ...plan('big'), layers });
  });

  it('keeps the placement as one typed array, gives it back as a re-plan reads it, and counts its bytes', async () => {
    const layers = [0, 1, 2].map((l) => ({ layer: l, unit2gpu: [l, 1, 0, 1] }));
    const entry = await createPlanEntry(plan('p', layers));
    assert.deepEqual(entry.facts, { modelId: null, granularity: 'query-head', layers: 3, units: 4 });
    assert.deepEqual([...entry.unit2gpu], [0, 1, 0, 1, 1, 1, 0, 1, 2, 1, 0, 1]);
    assert.deepEqual(previousOf(entry), {
      id: 'p',
      model: { id: null },
      granularity: 'query-head',
      layers: layers.map((l) => ({ unit2gpu: l.unit2gpu })),
    });
    const bare = await createPlanEntry(plan('bare'));
    const cache = createMemoryStore({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000 });
    await cache.set(bare);
    const overhead = cache.bytes().plans - bare.body.length;
    await cache.set(entry);
    assert.equal(cache.bytes().plans - bare.body.length - overhead, entry.body.length + 12 * 4 + overhead);
  });

  it('solves an id once for identical calls in flight, and serves the stored entry after', async () => {
    const store = createMemoryStore({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000 });
    let solves = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const solve = async (): Promise<PlanEntry> => {
      solves += 1;
      await gate;
      return createPlanEntry(plan('s'));
    };
    let joined = 0;
    const join = { joined: () => (joined += 1) };
    const calls = [
      store.solveOnce('s', solve, join),
      store.solveOnce('s', solve, join),
      store.solveOnce('s', solve, join),
    ];
    assert.equal(joined, 2, 'the later calls say at once that they wait for the first');
    release();
    const outcomes = await Promise.all(calls);
    assert.equal(solves, 1);
    assert.deepEqual(
      outcomes.map((o) => o.solvedHere),
      [true, false, false],
    );
    assert.equal(outcomes[1].entry, outcomes[0].entry);
    assert.equal(await store.get('s'), outcomes[0].entry);
    assert.equal((await store.solveOnce('s', solve)).solvedHere, false);
    assert.equal(solves, 1);
  });

  it('lets a failed solve fail every caller and leaves nothing behind', async () => {
    const store = createMemoryStore({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000 });
    const failing = () => Promise.reject(new Error('no plan'));
    await assert.rejects(store.solveOnce('f', failing), /no plan/);
    assert.equal(await store.get('f'), undefined);
    assert.equal((await store.solveOnce('f', () => createPlanEntry(plan('f')))).solvedHere, true);
    assert.equal(store.state(), 'ok');
  });
});
