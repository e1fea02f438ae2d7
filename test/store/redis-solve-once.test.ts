/**
 * solveOnce across replicas against a real redis-server: two stores on one Redis stand for two
 * replicas; solves are held by the test and released when it has seen what it waits for.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeRequiring, REDIS_SERVER } from '../requirements.ts';
import { redisFixture } from './redis-fixture.ts';
import { heldSolve, PATIENT, planEntry } from './store-helpers.ts';

describeRequiring(REDIS_SERVER, 'solveOnce across replicas', { timeout: 60_000 }, () => {
  const { replicas, admin: adminClient } = redisFixture(PATIENT);

  // Waiters are woken by the owner's release message: with a minute-long lease, a message that
  // never came would leave this test hanging past its timeout.
  it('a burst of identical calls split across two replicas is solved exactly once', { timeout: 20_000 }, async () => {
    const { a, b, keyPrefix } = await replicas({ leaseMs: 60_000 });
    const held = heldSolve();
    let joined = 0;
    const join = { joined: () => (joined += 1) };
    const calls = Array.from({ length: 12 }, (_, i) =>
      (i % 2 === 0 ? a : b).store.solveOnce('plan-1', held.solve, join),
    );
    await held.started();
    // The replica that lost the claim waits on the other's lease (its callers join its one wait).
    await Promise.race([a.metrics.until('leaseWait'), b.metrics.until('leaseWait')]);
    const entry = planEntry('plan-1');
    held.release(entry);
    const outcomes = await Promise.all(calls);
    assert.equal(held.calls(), 1);
    assert.equal(outcomes.filter((outcome) => outcome.solvedHere).length, 1);
    assert.ok(outcomes.every((outcome) => outcome.entry.etag === entry.etag));
    assert.equal(a.metrics.count('leaseWait') + b.metrics.count('leaseWait'), 1);
    assert.equal(
      joined,
      11,
      'every call but the solving one says it joined a solve (in process or on the other replica)',
    );
    assert.equal(await (await adminClient()).exists(`${keyPrefix}lease:plan-1`), 0, 'the lease was released');
  });

  it('a call finds the plan another replica stored and does not solve', async () => {
    const { a, b } = await replicas();
    await a.store.set(planEntry('plan-2'));
    const held = heldSolve();
    const outcome = await b.store.solveOnce('plan-2', held.solve);
    assert.equal(outcome.solvedHere, false);
    assert.equal(held.calls(), 0);
  });

  it("when the owner's solve fails its callers get the error and a waiter takes the lease and solves", async () => {
    const { a, b } = await replicas();
    const [owner, waiter] = [heldSolve(), heldSolve()];
    const failed = a.store.solveOnce('plan-3', owner.solve);
    await owner.started();
    const taken = b.store.solveOnce('plan-3', waiter.solve);
    await b.metrics.until('leaseWait');
    owner.fail(new Error('no slot on replica A'));
    await assert.rejects(failed, /no slot on replica A/);
    await waiter.started();
    waiter.release(planEntry('plan-3'));
    assert.equal((await taken).solvedHere, true);
    assert.equal(b.metrics.count('leaseTakeover'), 1);
    assert.equal(waiter.calls(), 1);
  });

  it('a live owner renews its lease: the waiter sits out several lease periods and gets its plan', async () => {
    // Renewed every second: the test's event loop may stall two seconds without losing the lease.
    const { a, b, keyPrefix } = await replicas({ leaseMs: 3000 });
    await (await adminClient()).configSet('notify-keyspace-events', 'Kg');
    const watcher = (await adminClient()).duplicate();
    await watcher.connect();
    let expires = 0;
    let counted: () => void = () => undefined;
    await watcher.subscribe(`__keyspace@0__:${keyPrefix}lease:plan-4`, (event) => {
      if (event !== 'expire') return;
      expires += 1;
      counted();
    });
    const [owner, waiter] = [heldSolve(), heldSolve()];
    const owned = a.store.solveOnce('plan-4', owner.solve);
    await owner.started();
    const waited = b.store.solveOnce('plan-4', waiter.solve);
    await b.metrics.until('leaseWait');
    // One expire event when the lease is taken, one per renewal: 5 span more than a lease period.
    const renewed = (async () => {
      while (expires < 5) await new Promise<void>((resolve) => (counted = resolve));
    })();
    const tookOver = waiter.started().then(() => assert.fail('the waiter took over from a live owner'));
    await Promise.race([renewed, tookOver]);
    await watcher.unsubscribe();
    watcher.destroy();
    const entry = planEntry('plan-4');
    owner.release(entry);
    assert.deepEqual(
      [(await owned).solvedHere, (await waited).solvedHere, (await waited).entry.etag],
      [true, false, entry.etag],
    );
    assert.equal(waiter.calls(), 0);
    assert.equal(b.metrics.count('leaseTakeover'), 0);
  });

  it("an owner whose lease was taken over leaves the new owner's lease alone", async () => {
    const { a, keyPrefix } = await replicas();
    const owner = heldSolve();
    const owned = a.store.solveOnce('plan-8', owner.solve);
    await owner.started();
    // As if A had stalled past its lease and another replica had taken it.
    await (await adminClient()).set(`${keyPrefix}lease:plan-8`, 'another-owner', { PX: 60_000 });
    owner.release(planEntry('plan-8'));
    assert.equal((await owned).solvedHere, true);
    assert.equal((await (await adminClient()).get(`${keyPrefix}lease:plan-8`))?.toString(), 'another-owner');
  });

  it('a waiter whose signal aborts stops waiting and solves itself', async () => {
    const { a, b } = await replicas();
    const [owner, waiter] = [heldSolve(), heldSolve()];
    const owned = a.store.solveOnce('plan-5', owner.solve);
    await owner.started();
    const deadline = new AbortController();
    const gaveUp = b.store.solveOnce('plan-5', waiter.solve, { signal: deadline.signal });
    await b.metrics.until('leaseWait');
    deadline.abort();
    await waiter.started();
    waiter.release(planEntry('plan-5', { tag: 'b' }));
    assert.equal((await gaveUp).solvedHere, true);
    assert.equal(b.metrics.count('fallback:aborted'), 1);
    owner.release(planEntry('plan-5', { tag: 'a' }));
    assert.equal((await owned).solvedHere, true);
  });

  it('a waiter past its wait bound solves itself', async () => {
    const { a, b } = await replicas({ maxWaitMs: 1 });
    const [owner, waiter] = [heldSolve(), heldSolve()];
    const owned = a.store.solveOnce('plan-6', owner.solve);
    await owner.started();
    const bounded = b.store.solveOnce('plan-6', waiter.solve);
    await waiter.started();
    waiter.release(planEntry('plan-6'));
    assert.equal((await bounded).solvedHere, true);
    assert.equal(b.metrics.count('fallback:wait_bound'), 1);
    owner.release(planEntry('plan-6'));
    await owned;
  });

  it('identical calls in one process share one solve, and a joined caller that gives up does not start another', async () => {
    const { a } = await replicas();
    const held = heldSolve();
    const deadline = new AbortController();
    const calls = [
      a.store.solveOnce('plan-7', held.solve),
      ...Array.from({ length: 4 }, () => a.store.solveOnce('plan-7', held.solve, { signal: deadline.signal })),
    ];
    await held.started();
    deadline.abort();
    held.release(planEntry('plan-7'));
    const outcomes = await Promise.all(calls);
    assert.equal(held.calls(), 1);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.solvedHere),
      [true, false, false, false, false],
    );
    assert.equal(a.metrics.count('leaseWait'), 0);
  });
});
