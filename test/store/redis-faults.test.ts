/**
 * The Redis store when Redis fails: stopped, frozen (accepting, never answering) and killed then
 * restarted with calls in flight. Nothing rejects; reads miss, writes drop and solves run locally,
 * each counted; the store reports degraded and then ok again, and sharing resumes.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { createClient } from 'redis';
import type { RedisStoreOptions } from '../../src/store/redis-options.ts';
import type { RedisPlanStore } from '../../src/store/redis-store.ts';
import { describeRequiring, REDIS_SERVER } from '../requirements.ts';
import { redisFixture } from './redis-fixture.ts';
import { entryShape, heldSolve, PATIENT, planEntry, untilState } from './store-helpers.ts';

/** Fast reconnection and probes, so the tests wait little for recovery (they never assert on time). */
const QUICK: Partial<RedisStoreOptions> = { ...PATIENT, reconnectMinMs: 10, reconnectMaxMs: 100, probeIntervalMs: 50 };

describeRequiring(REDIS_SERVER, 'the Redis store when Redis fails', { timeout: 60_000 }, () => {
  const fixture = redisFixture(QUICK);
  const { replicas } = fixture;

  it('while Redis is down, reads miss, writes drop and solves run locally; when it is back, sharing resumes', async () => {
    const { a, b } = await replicas();
    const held = planEntry('plan-1');
    await a.store.set(held);
    await fixture.server.stop();
    await Promise.all([untilState(a.store, 'degraded'), untilState(b.store, 'degraded')]);

    assert.equal((await a.store.get('plan-1'))?.etag, held.etag, 'A still serves what it holds');
    assert.equal(await b.store.get('plan-1'), undefined);
    assert.equal(await b.store.getByLookup('lookup-1'), undefined);
    await b.store.set(planEntry('plan-2'), 'lookup-2');
    const solve = heldSolve();
    solve.release(planEntry('plan-3'));
    assert.equal((await b.store.solveOnce('plan-3', solve.solve)).solvedHere, true);
    assert.deepEqual(
      (['error:get', 'error:get_lookup', 'error:set', 'fallback:degraded'] as const).map((event) =>
        b.metrics.count(event),
      ),
      [1, 1, 2, 1],
      'a miss, a lookup miss, two dropped writes (plan-2, then the local solve of plan-3), one local solve',
    );

    await fixture.server.start();
    await Promise.all([untilState(a.store, 'ok'), untilState(b.store, 'ok')]);
    const after = planEntry('plan-4');
    await a.store.set(after, 'lookup-4');
    assert.deepEqual(entryShape(await b.store.getByLookup('lookup-4')), entryShape(after));
  });

  it('a Redis that stops answering costs each command its timeout, then the store is degraded until it answers', async () => {
    const { a } = await replicas({ commandTimeoutMs: 50 });
    fixture.server.freeze();
    try {
      assert.equal(await a.store.get('plan-5'), undefined);
      assert.equal(a.metrics.count('error:get'), 1);
      assert.equal(a.store.state(), 'degraded');
      const solve = heldSolve();
      solve.release(planEntry('plan-5'));
      assert.equal((await a.store.solveOnce('plan-5', solve.solve)).solvedHere, true);
      assert.equal(a.metrics.count('fallback:degraded'), 1);
    } finally {
      fixture.server.thaw();
    }
    // A probe's PING was answered.
    await untilState(a.store, 'ok');
  });

  it('killed and restarted with calls in flight: nothing rejects, the stores go degraded then ok', async () => {
    // A lease the owner keeps through a two-second stall of this busy process.
    const { a, b, keyPrefix } = await replicas({ leaseMs: 3000 });
    const states: string[] = [];
    a.store.onState((state) => states.push(state));

    // A solve in flight across the outage: A owns the lease, B waits on it.
    const [owner, waiter] = [heldSolve(), heldSolve()];
    const owned = a.store.solveOnce('plan-held', owner.solve);
    await owner.started();
    const waited = b.store.solveOnce('plan-held', waiter.solve);
    await b.metrics.until('leaseWait');
    waiter.release(planEntry('plan-held', { tag: 'b' }));

    // Calls of every kind on both replicas, until told to stop.
    let running = true;
    let done = 0;
    const failures: unknown[] = [];
    const loop = async (store: RedisPlanStore, n: number): Promise<void> => {
      for (let i = 0; running; i++) {
        const id = `plan-${n}-${i % 5}`;
        const entry = planEntry(id);
        const calls = [
          () => store.get(id),
          () => store.getByLookup(`lookup-${i % 5}`),
          () => store.set(entry, `lookup-${i % 5}`),
          () => store.solveOnce(`solve-${i % 3}`, async () => planEntry(`solve-${i % 3}`)),
        ];
        await calls[i % calls.length]().catch((error: unknown) => failures.push(error));
        done += 1;
        // Offline commands fail at once: yield so the loops never starve the event loop.
        await turn();
      }
    };
    const loops = [a.store, b.store, a.store, b.store].map(loop);
    const until = async (more: number) => {
      const target = done + more;
      while (done < target) await turn();
    };

    await until(40);
    await fixture.server.kill();
    await Promise.all([untilState(a.store, 'degraded'), untilState(b.store, 'degraded')]);
    await until(40);
    owner.release(planEntry('plan-held', { tag: 'a' }));
    assert.equal((await owned).solvedHere, true, 'the owner answers though it cannot store or release');
    assert.equal((await waited).solvedHere, true, 'the waiter solves itself once it cannot reach Redis');
    await fixture.server.start();
    await Promise.all([untilState(a.store, 'ok'), untilState(b.store, 'ok')]);
    // Both replicas hear about released leases again (node-redis re-subscribes on reconnection).
    const admin = createClient({ url: fixture.server.url });
    await admin.connect();
    while ((await admin.pubSubNumSub(`${keyPrefix}solved`))[`${keyPrefix}solved`] !== 2) await sleep(10);
    admin.destroy();
    await until(40);
    running = false;
    await Promise.all(loops);

    assert.deepEqual(failures, []);
    assert.deepEqual(states.slice(0, 2), ['degraded', 'ok']);
    assert.ok(b.metrics.count('fallback:store_error') >= 1, 'the waiter fell back on a store error');
    const shared = planEntry('plan-after');
    await a.store.set(shared);
    assert.equal((await b.store.get('plan-after'))?.etag, shared.etag);
  });
});
