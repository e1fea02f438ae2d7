import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/http/metrics.ts';
import {
  createPlanCache,
  createPlanEntry,
  etagMatches,
  lookupKey,
  previousOf,
  type LookupQuery,
} from '../../src/http/plan-cache.ts';
import type { Plan } from '../../src/planner/plan.ts';
import { metricValue } from './helpers.ts';

const QUERY: LookupQuery = {
  modelId: 'm',
  modelVersion: 'v1',
  gpus: 8,
  granularity: 'query-head',
  unitsPerGpu: 'equal',
  seqLen: 131072,
  phase: 'prefill',
  engine: 'auto',
  costModel: 'analytic',
  splitHeads: 0,
  maxKvCacheFactor: 1,
  maxKvGroupsPerGpu: null,
  mix: null,
};
/** A plan with what an entry reads of it: its shape and each layer's unit2gpu (given, or none). */
const plan = (id: string, layers: object[] = []): Plan =>
  ({
    id,
    model: { id: null },
    gpus: { count: 2 },
    granularity: 'query-head',
    layers: layers.map((l) => ({ unit2gpu: [], ...l })),
  }) as unknown as Plan;

describe('lookupKey', () => {
  it('is equal for equal queries and differs when any field differs', () => {
    assert.equal(lookupKey({ ...QUERY }), lookupKey(QUERY));
    const variants: Partial<LookupQuery>[] = [
      { modelId: 'n' },
      { modelVersion: 'v2' },
      { gpus: 4 },
      { granularity: 'kv-group' },
      { unitsPerGpu: 'free' },
      { seqLen: 4096 },
      { phase: 'decode' },
      { engine: 'ilp' },
      { costModel: 'calibrated:x' },
      { splitHeads: 3 },
      { maxKvCacheFactor: 1.5 },
      { maxKvCacheFactor: null },
      { maxKvGroupsPerGpu: 2 },
      { mix: [{ phase: 'decode', seqLen: 131072, weight: 1 }] },
      { mix: [{ phase: 'decode', seqLen: 131072, weight: 2 }] },
    ];
    const keys = new Set(variants.map((v) => lookupKey({ ...QUERY, ...v })));
    assert.equal(keys.size, variants.length);
    assert.ok(!keys.has(lookupKey(QUERY)));
  });

  it('cannot be forged by separators inside a value', () => {
    assert.notEqual(
      lookupKey({ ...QUERY, modelId: 'a","v1' }),
      lookupKey({ ...QUERY, modelId: 'a', modelVersion: 'v1' }),
    );
  });
});

describe('etagMatches', () => {
  const table: [string | undefined, boolean][] = [
    [undefined, false],
    ['"abc"', true],
    ['"x", "abc"', true],
    ['W/"abc"', true],
    ['*', true],
    ['"abcd"', false],
    ['abc', false],
  ];
  for (const [header, expected] of table)
    it(`${String(header)} -> ${expected}`, () => assert.equal(etagMatches(header, '"abc"'), expected));
});

describe('createPlanCache', () => {
  const newMetrics = () =>
    createMetrics({ plans: () => ({ inFlight: 0, queued: 0 }), solver: () => ({ queueDepth: 0, busy: 0 }) });

  it('keeps entries by id and by lookup key, expires them after the TTL and counts evictions', async () => {
    let now = 5000;
    const metrics = newMetrics();
    const cache = createPlanCache({ maxEntries: 2, maxBytes: 1 << 20, ttlMs: 1000, metrics, now: () => now });
    const a = await createPlanEntry(plan('a'));
    cache.set(a, 'key-a');
    assert.equal(cache.getById('a'), a);
    assert.equal(cache.getByLookup('key-a'), a);
    now = 6001;
    assert.equal(cache.getById('a'), undefined);
    assert.equal(cache.getByLookup('key-a'), undefined);
    cache.set(await createPlanEntry(plan('b')));
    cache.set(await createPlanEntry(plan('c')));
    cache.set(await createPlanEntry(plan('d')));
    assert.equal(cache.getById('b'), undefined);
    assert.ok(cache.getById('d'));
    const text = await metrics.registry.metrics();
    assert.ok(metricValue(text, 'hplb_plan_cache_evictions_total', { cache: 'plans' }) >= 2);
    assert.equal(metricValue(text, 'hplb_plan_cache_hits_total', { cache: 'lookups' }), 1);
  });

  it('is bounded by the bytes of the bodies it holds, evicting the least recently used', async () => {
    const metrics = newMetrics();
    const big = (id: string) => createPlanEntry(plan(id, [{ filler: 'x'.repeat(40_000) }]));
    const cache = createPlanCache({ maxEntries: 1000, maxBytes: 100_000, ttlMs: 60_000, metrics });
    for (const id of ['a', 'b', 'c', 'd']) cache.set(await big(id), `key-${id}`);
    assert.ok(cache.bytes().plans <= 100_000, `${cache.bytes().plans} bytes held`);
    assert.equal(cache.getById('a'), undefined);
    assert.equal(cache.getByLookup('key-a'), undefined, 'a lookup of an evicted plan is a miss');
    assert.ok(cache.getById('d'));
    assert.equal(
      metricValue(await metrics.registry.metrics(), 'hplb_plan_cache_evictions_total', { cache: 'plans' }),
      2,
    );
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
    const cache = createPlanCache({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000 });
    cache.set(bare);
    const overhead = cache.bytes().plans - bare.body.length;
    cache.set(entry);
    assert.equal(cache.bytes().plans - bare.body.length - overhead, entry.body.length + 12 * 4 + overhead);
  });
});
