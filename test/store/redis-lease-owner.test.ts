/**
 * A replica killed mid-solve (a child process holding the lease, SIGKILLed) costs the others one
 * lease period: a waiter on another replica takes the lease over and solves.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { createRedisStore, type RedisPlanStore } from '../../src/store/redis-store.ts';
import { describeRequiring, REDIS_SERVER } from '../requirements.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';
import { heldSolve, PATIENT, planEntry, RecordingMetrics, untilState } from './store-helpers.ts';

const OWNER = fileURLToPath(new URL('./fixtures/lease-owner.ts', import.meta.url));
/** Renewed every second: the owner may stall two seconds without losing its lease. */
const LEASE_MS = 3000;

describeRequiring(REDIS_SERVER, 'a lease owner that dies', { timeout: 60_000 }, () => {
  let server: RedisServer;
  let owner: ChildProcess | undefined;
  let store: RedisPlanStore | undefined;

  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    owner?.kill('SIGKILL');
    await store?.close();
    await server?.stop();
  });

  it('is taken over by a waiting replica after one lease period', async () => {
    const keyPrefix = `test-${randomUUID()}:`;
    owner = spawn(process.execPath, ['--import', 'tsx', OWNER, server.url, keyPrefix, 'plan-1', String(LEASE_MS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: owner.stdout! });
    const [line] = await once(lines, 'line');
    assert.equal(line, 'solving');
    const admin = createClient({ url: server.url });
    await admin.connect();
    assert.equal(await admin.exists(`${keyPrefix}lease:plan-1`), 1, 'the child holds the lease');
    admin.destroy();

    const metrics = new RecordingMetrics();
    store = createRedisStore({ url: server.url, keyPrefix, ttlMs: 60_000, metrics, ...PATIENT });
    await untilState(store, 'ok');
    const waiter = heldSolve();
    let killed = false;
    const outcome = store.solveOnce('plan-1', waiter.solve);
    const early = waiter.started().then(() => assert.ok(killed, 'the waiter solved while the owner was alive'));
    await metrics.until('leaseWait');
    const exited = once(owner, 'exit');
    killed = true;
    owner.kill('SIGKILL');
    await exited;
    await early;
    waiter.release(planEntry('plan-1'));
    assert.equal((await outcome).solvedHere, true);
    assert.equal(metrics.count('leaseTakeover'), 1);
    assert.equal(waiter.calls(), 1);
  });
});
