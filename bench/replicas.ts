/**
 * `npm run bench:replicas`: the Redis plan store at the store level, against a real redis-server
 * started on a loopback port (Debian's, as the tests use). Two stores in this process stand for two
 * replicas (each with its own connections); the HTTP-level run of two service processes comes with
 * the wiring of the store into the app.
 *
 * 1. Cached lookups (getByLookup) of plans the size of Llama-3-8B's (64 KB, 32 x 32 units) and
 *    Llama-3-70B's (254 KB, 80 x 64) at 8 GPUs: served from the local LRU (what the memory store
 *    does), and through Redis on every call (a store whose local LRU is too small to keep them):
 *    ops/s, p50 and p99, one call at a time (the round trip's cost) and 32 in flight (one key:
 *    concurrent reads of one plan share one transfer, as they do in the store).
 * 2. Cold bursts: identical solveOnce calls split across the two stores, with a solve that takes
 *    SOLVE_MS; solves counted (1 expected per burst), and how long waiters took past the solve.
 * 3. A Redis restart under load: lookups through Redis on four loops while Redis is killed and
 *    started again; calls answered, rejected (0 expected), misses, the slowest call, and how long
 *    the stores stayed degraded after Redis was back.
 * Results are printed and written to bench/results/replicas-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { median } from '../src/kernel/timing.ts';
import type { PlanEntry } from '../src/store/plan-entry.ts';
import type { RedisStoreOptions } from '../src/store/redis-options.ts';
import { createRedisStore, type RedisPlanStore } from '../src/store/redis-store.ts';
// The tests' launcher: a redis-server on a free loopback port, no persistence, killed at exit.
import { type RedisServer, startRedisServer } from '../test/store/redis-server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOLVE_MS = 200;
const SHAPES = [
  { name: 'llama-3-8b (64 KB)', bytes: 64_324, layers: 32, units: 32 },
  { name: 'llama-3-70b (254 KB)', bytes: 254_220, layers: 80, units: 64 },
] as const;

/** An entry whose body is `bytes` of JSON, with a placement of layers x units. */
function entryOf(id: string, bytes: number, layers: number, units: number): PlanEntry {
  const head = `{"id":"${id}","pad":"`;
  const body = Buffer.from(`${head}${'x'.repeat(Math.max(0, bytes - head.length - 2))}"}`);
  const unit2gpu = new Int32Array(layers * units).map((_, i) => i % 8);
  return { id, body, etag: `"${id}"`, facts: { modelId: id, granularity: 'query-head', layers, units }, unit2gpu };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

interface Rate {
  readonly opsPerS: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/** `call` on `inFlight` loops for `seconds`; every call must answer a plan. */
async function measure(call: () => Promise<PlanEntry | undefined>, inFlight: number, seconds: number): Promise<Rate> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const start = performance.now();
      if ((await call()) === undefined) throw new Error('a cached lookup missed');
      latencies.push((performance.now() - start) * 1000);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    opsPerS: Math.round(latencies.length / elapsed),
    p50Us: Math.round(percentile(latencies, 0.5) * 10) / 10,
    p99Us: Math.round(percentile(latencies, 0.99) * 10) / 10,
  };
}

async function lookups(redis: RedisServer, seconds: number, rounds: number) {
  const options = { url: redis.url, ttlMs: 3_600_000, keyPrefix: 'bench-lookups:' };
  const writer = createRedisStore(options);
  const local = createRedisStore(options);
  // Too small to keep any plan: every call goes to Redis.
  const remote = createRedisStore({ ...options, localMaxBytes: 1024 });
  await Promise.all([writer, local, remote].map(untilOk));
  const rows = [];
  for (const shape of SHAPES) {
    const key = `lookup-${shape.name}`;
    await writer.set(entryOf(`plan-${shape.bytes}`, shape.bytes, shape.layers, shape.units), key);
    for (const inFlight of [1, 32]) {
      const samples: { local: Rate[]; redis: Rate[] } = { local: [], redis: [] };
      for (let round = 0; round < rounds; round++) {
        samples.local.push(await measure(() => local.getByLookup(key), inFlight, seconds));
        samples.redis.push(await measure(() => remote.getByLookup(key), inFlight, seconds));
      }
      const med = (rates: Rate[], field: keyof Rate) => median(rates.map((rate) => rate[field]));
      const row = { plan: shape.name, inFlight } as Record<string, unknown>;
      for (const side of ['local', 'redis'] as const)
        for (const field of ['opsPerS', 'p50Us', 'p99Us'] as const) row[`${side}.${field}`] = med(samples[side], field);
      rows.push(row);
    }
  }
  await Promise.all([writer, local, remote].map((store) => store.close()));
  return rows;
}

async function bursts(redis: RedisServer, calls: number, rounds: number) {
  const options = { url: redis.url, ttlMs: 3_600_000, keyPrefix: 'bench-bursts:' };
  const replicas = [createRedisStore(options), createRedisStore(options)];
  await Promise.all(replicas.map(untilOk));
  const rows = [];
  for (let round = 0; round < rounds; round++) {
    const id = `burst-${round}`;
    let solves = 0;
    const solve = async () => {
      solves += 1;
      await sleep(SOLVE_MS);
      return entryOf(id, 64_324, 32, 32);
    };
    const start = performance.now();
    const done = await Promise.all(
      Array.from({ length: calls }, async (_, i) => {
        await replicas[i % 2].solveOnce(id, solve);
        return performance.now() - start;
      }),
    );
    const last = Math.max(...done);
    rows.push({ calls, solves, lastAnswerMs: Math.round(last), pastSolveMs: Math.round(last - SOLVE_MS) });
  }
  await Promise.all(replicas.map((store) => store.close()));
  return rows;
}

async function restart(redis: RedisServer, downSeconds: number) {
  const options: RedisStoreOptions = {
    url: redis.url,
    ttlMs: 3_600_000,
    keyPrefix: 'bench-restart:',
    localMaxBytes: 1024,
  };
  const replicas = [createRedisStore(options), createRedisStore(options)];
  await Promise.all(replicas.map(untilOk));
  await replicas[0].set(entryOf('plan-restart', 64_324, 32, 32), 'lookup-restart');
  let running = true;
  const tally = { answered: 0, misses: 0, rejected: 0, slowestMs: 0 };
  const loop = async (store: RedisPlanStore): Promise<void> => {
    while (running) {
      const start = performance.now();
      try {
        // The writer's shared record is gone after a restart: re-store it as the service would.
        const entry = await store.getByLookup('lookup-restart');
        if (entry === undefined) {
          tally.misses += 1;
          await store.set(entryOf('plan-restart', 64_324, 32, 32), 'lookup-restart');
        }
        tally.answered += 1;
      } catch {
        tally.rejected += 1;
      }
      tally.slowestMs = Math.max(tally.slowestMs, performance.now() - start);
      await turn();
    }
  };
  const loops = [...replicas, ...replicas].map(loop);
  await sleep(1000);
  await redis.kill();
  await sleep(downSeconds * 1000);
  const restarted = performance.now();
  await redis.start();
  await Promise.all(replicas.map(untilOk));
  const degradedAfterRestartMs = performance.now() - restarted;
  await sleep(1000);
  running = false;
  await Promise.all(loops);
  await Promise.all(replicas.map((store) => store.close()));
  return {
    ...tally,
    slowestMs: Math.round(tally.slowestMs),
    downSeconds,
    degradedAfterRestartMs: Math.round(degradedAfterRestartMs),
  };
}

async function untilOk(store: RedisPlanStore): Promise<void> {
  if (store.state() === 'ok') return;
  await new Promise<void>((resolve) => {
    const stop = store.onState((state) => {
      if (state === 'ok') {
        stop();
        resolve();
      }
    });
  });
}

async function main(): Promise<void> {
  const program = new Command('bench:replicas')
    .option('--seconds <n>', 'seconds per measured run', '2')
    .option('--rounds <n>', 'interleaved rounds per measurement (medians reported)', '3')
    .option('--burst <n>', 'identical calls per cold burst', '32')
    .parse();
  const seconds = Number(program.opts().seconds);
  const rounds = Number(program.opts().rounds);
  const redis = await startRedisServer();
  try {
    const report = {
      date: new Date().toISOString(),
      redis: redis.url,
      lookups: await lookups(redis, seconds, rounds),
      bursts: await bursts(redis, Number(program.opts().burst), rounds),
      restart: await restart(redis, 2),
    };
    console.table(report.lookups);
    console.table(report.bursts);
    console.table([report.restart]);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    const file = join(ROOT, 'bench', 'results', `replicas-${report.date.slice(0, 19).replaceAll(':', '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`written to ${file}`);
  } finally {
    await redis.stop();
  }
}

await main();
