/**
 * The Redis plan store against a real redis-server: two stores on one Redis stand for two replicas.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeRequiring, REDIS_SERVER } from '../requirements.ts';
import { redisFixture } from './redis-fixture.ts';
import { entryShape, PATIENT, planEntry, RecordingMetrics } from './store-helpers.ts';

const TTL_MS = 60_000;

describeRequiring(REDIS_SERVER, 'the Redis plan store', { timeout: 60_000 }, () => {
  const { open, prefix, admin: adminClient } = redisFixture({ ttlMs: TTL_MS, ...PATIENT });

  it('a plan stored on one replica is read on another, byte for byte, then held locally', async () => {
    const keys = prefix();
    const [a, b] = [await open(keys), await open(keys)];
    const entry = planEntry('plan-1', { layers: 4, units: 32, gpus: 8 });
    await a.set(entry);
    assert.equal(b.peek('plan-1'), undefined, 'B holds nothing before it reads');
    const read = await b.get('plan-1');
    assert.deepEqual(entryShape(read), entryShape(entry));
    assert.equal(b.peek('plan-1'), read, 'B holds what it read');
    assert.equal(await b.get('plan-unknown'), undefined);
    assert.ok(b.bytes().plans >= entry.body.length);
  });

  it('counts the bytes the plans it read from Redis keep alive, not the views the replies gave', async () => {
    const keys = prefix();
    const [a, b] = [await open(keys), await open(keys)];
    const entries = Array.from({ length: 6 }, (_, i) => planEntry(`small-${i}`, { layers: 2, units: 4, tag: `${i}` }));
    for (const entry of entries) await a.set(entry);
    const read = await Promise.all(entries.map((entry) => b.get(entry.id)));
    const held = read.filter((entry) => entry !== undefined && b.peek(entry.id) === entry);
    assert.equal(held.length, entries.length);
    // An entry pins its whole backing stores for as long as it alone is held: each is charged for them.
    const retained = held.reduce(
      (sum, entry) => sum + entry!.body.buffer.byteLength + entry!.unit2gpu.buffer.byteLength,
      0,
    );
    assert.ok(retained <= b.bytes().plans, `${retained} bytes retained, ${b.bytes().plans} counted`);
  });

  it('a lookup key stored on one replica finds the plan on another', async () => {
    const keys = prefix();
    const [a, b] = [await open(keys), await open(keys)];
    const entry = planEntry('plan-2');
    await a.set(entry, '/v1/models/m/plan?gpus=4');
    assert.equal(b.peekLookup('/v1/models/m/plan?gpus=4'), undefined);
    assert.deepEqual(entryShape(await b.getByLookup('/v1/models/m/plan?gpus=4')), entryShape(entry));
    assert.equal(b.peekLookup('/v1/models/m/plan?gpus=4')?.id, 'plan-2');
    assert.equal(await b.getByLookup('/v1/models/m/plan?gpus=8'), undefined);
  });

  it('a lookup this replica knows reads only its plan once the local LRU let the plan go', async () => {
    const keys = prefix();
    const a = await open(keys);
    const b = await open(keys, { localMaxEntries: 1 });
    const entry = planEntry('plan-8');
    await a.set(entry, 'lookup-8');
    await a.set(planEntry('plan-9'));
    assert.equal((await b.getByLookup('lookup-8'))?.id, 'plan-8');
    assert.ok(await b.get('plan-9'));
    assert.equal(b.peek('plan-8'), undefined, 'B let plan-8 go for plan-9, and kept the lookup');
    // Without Redis's mapping, B can only have found the plan by the id it knew.
    await (await adminClient()).del(`${keys}lookup:lookup-8`);
    assert.deepEqual(entryShape(await b.getByLookup('lookup-8')), entryShape(entry));
  });

  it('concurrent reads of one lookup on a replica cost one read of the lookup and one of its plan', async () => {
    const keys = prefix();
    const [a, b] = [await open(keys), await open(keys)];
    const entry = planEntry('plan-10');
    await a.set(entry, 'lookup-10');
    const admin = await adminClient();
    await admin.configResetStat();
    const reads = await Promise.all(Array.from({ length: 8 }, () => b.getByLookup('lookup-10')));
    assert.ok(reads.every((read) => read?.etag === entry.etag));
    // Only B talks to Redis meanwhile: a GET inside MULTI counts as a GET.
    const stats = await admin.info('commandstats');
    const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    assert.deepEqual({ get: calls('get'), hmget: calls('hmget') }, { get: 1, hmget: 1 });
  });

  it('plans and lookups expire in Redis after the TTL, and a local copy lives no longer than the shared one', async () => {
    const keys = prefix();
    let now = 1_000_000;
    const a = await open(keys);
    const b = await open(keys, { now: () => now });
    await a.set(planEntry('plan-3'), 'lookup-3');
    for (const key of [`${keys}plan:plan-3`, `${keys}lookup:lookup-3`]) {
      const pttl = await (await adminClient()).pTTL(key);
      assert.ok(pttl > 0 && pttl <= TTL_MS, `${key} expires within the TTL (PTTL ${pttl})`);
    }
    await (await adminClient()).pExpire(`${keys}plan:plan-3`, 5000);
    assert.ok(await b.get('plan-3'));
    now += 5001;
    assert.equal(b.peek('plan-3'), undefined, "B's copy expired with Redis's");
  });

  it('deployments with different key prefixes do not see each other', async () => {
    const [a, b] = [await open(prefix()), await open(prefix())];
    await a.set(planEntry('plan-4'), 'lookup-4');
    assert.equal(await b.get('plan-4'), undefined);
    assert.equal(await b.getByLookup('lookup-4'), undefined);
  });

  it('the first solve stored under an id is the one every replica serves', async () => {
    const keys = prefix();
    const [a, b, c] = [await open(keys), await open(keys), await open(keys)];
    const first = planEntry('plan-5', { tag: 'first' });
    await a.set(first);
    await b.set(planEntry('plan-5', { tag: 'second' }));
    assert.equal((await c.get('plan-5'))?.etag, first.etag);
  });

  it('a record this version cannot read is a miss, counted, and the next write replaces it', async () => {
    const keys = prefix();
    const metrics = new RecordingMetrics();
    const [a, b] = [await open(keys), await open(keys, { metrics })];
    await (await adminClient()).hSet(`${keys}plan:plan-6`, { v: '0', body: 'from an older release' });
    assert.equal(await b.get('plan-6'), undefined);
    assert.equal(metrics.count('error:decode'), 1);
    const entry = planEntry('plan-6');
    await a.set(entry);
    assert.deepEqual(entryShape(await b.get('plan-6')), entryShape(entry));
  });

  it('storing a held plan again renews it, and writes it whole when Redis has lost it', async () => {
    const keys = prefix();
    const [a, b] = [await open(keys), await open(keys)];
    const entry = planEntry('plan-7');
    await a.set(entry);
    await (await adminClient()).pExpire(`${keys}plan:plan-7`, 5000);
    await a.set(entry, 'lookup-7');
    assert.ok((await (await adminClient()).pTTL(`${keys}plan:plan-7`)) > 5000, 'the TTL was renewed');
    await (await adminClient()).del(`${keys}plan:plan-7`);
    await a.set(entry, 'lookup-7');
    assert.deepEqual(entryShape(await b.getByLookup('lookup-7')), entryShape(entry));
  });
});
