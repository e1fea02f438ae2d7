/**
 * `npm run bench:replicas`: two replicas of the service (src/server.ts as real processes, one
 * solver worker each) sharing a real redis-server on one machine (Debian's, on a loopback port, as
 * the tests start it), beside the single-process memory store.
 *
 * 1. Cached lookups of the flagship's plan at 8 GPUs (GET /v1/models/{id}/plan?gpus=8), one after
 *    another on one connection (service time) and under autocannon on 32, rounds interleaved,
 *    medians of req/s, p50 and p99: the memory store (one process, no REDIS_URL); a replica of the Redis store, which
 *    serves from its local LRU; a replica whose local LRU cannot hold the plan (CACHE_MAX_BYTES
 *    1024), so that every lookup reads it from Redis. The p50 difference of the last and the first
 *    at one connection is what a Redis round trip costs a request.
 * 2. Cold bursts: identical lookups of a plan not solved yet, split over the two replicas at once:
 *    solves counted on /metrics (hplb_plan_solves_total summed over both; 1 expected), statuses.
 * 3. A Redis restart under load: two loops per replica (a cached lookup, a POST of a new small
 *    plan, a GET of the plan the other replica created last) while Redis is killed and, --down
 *    seconds later, started again: answers by status and latency in each phase, and how long the
 *    replicas took to report the store ok once Redis was back.
 * Results are printed and written to bench/results/replicas-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Command } from 'commander';
import { positiveInt } from '../src/cli/options.ts';
import { median } from '../src/kernel/timing.ts';
import { FLAGSHIP_MODEL } from '../src/profiles/flagship.ts';
// The tests' launcher: a redis-server on a free loopback port, no persistence, killed at exit.
import { type RedisServer, startRedisServer } from '../test/store/redis-server.ts';
import { startLoad, summedMetric, untilStores } from './replica-load.ts';
import { call, type Service, startService } from './reliability-client.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOOKUP = `/v1/models/${FLAGSHIP_MODEL}/plan?gpus=8`;
/** A cold solve of the flagship takes seconds on a loaded machine. */
const SOLVE_TIMEOUT_MS = 120_000;

const program = new Command('bench:replicas')
  .option('--seconds <n>', 'seconds per measured autocannon run', positiveInt, 3)
  .option('--rounds <n>', 'interleaved rounds per measurement (medians reported)', positiveInt, 3)
  .option('--burst <n>', 'identical cold lookups per burst', positiveInt, 16)
  .option('--down <n>', 'seconds Redis stays down under load', positiveInt, 2)
  .parse();
const flags = program.opts<{ seconds: number; rounds: number; burst: number; down: number }>();

async function cachedLookups(sides: Record<string, Service>) {
  for (const service of Object.values(sides)) {
    const res = await call(service.base, 'GET', LOOKUP, undefined, {}, SOLVE_TIMEOUT_MS);
    if (res.status !== 200) throw new Error(`the lookup answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
  }
  const rows = [];
  // One connection: each lookup after the last (this process's own client, whose latencies keep
  // microseconds); 32: autocannon, as fast as the connections go.
  for (const connections of [1, 32]) {
    const runs = new Map<string, { reqPerS: number; p50Ms: number; p99Ms: number; failed: number }[]>(
      Object.keys(sides).map((side) => [side, []]),
    );
    for (let round = 0; round < flags.rounds; round++) {
      for (const [side, service] of Object.entries(sides)) {
        runs.get(side)!.push(connections === 1 ? await serial(service) : await loaded(service, connections));
      }
    }
    for (const [side, results] of runs) {
      const med = (field: 'reqPerS' | 'p50Ms' | 'p99Ms') => median(results.map((r) => r[field]));
      const failed = results.reduce((n, r) => n + r.failed, 0);
      rows.push({
        store: side,
        connections,
        reqPerS: Math.round(med('reqPerS')),
        p50Ms: med('p50Ms'),
        p99Ms: med('p99Ms'),
        failed,
      });
    }
  }
  return rows;
}

/** Lookups one after another for --seconds. */
async function serial(service: Service) {
  const load = startLoad([service], 1, (s) => call(s.base, 'GET', LOOKUP));
  await sleep(flags.seconds * 1000);
  const { answers, statuses, p50Ms, p99Ms } = (await load.stop()).start;
  return { reqPerS: answers / flags.seconds, p50Ms, p99Ms, failed: answers - (statuses[200] ?? 0) };
}

/** Lookups on `connections` connections for --seconds (autocannon). */
async function loaded(service: Service, connections: number) {
  const r = await autocannon({ url: service.base + LOOKUP, connections, duration: flags.seconds });
  return { reqPerS: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, failed: r.non2xx + r.errors };
}

async function coldBursts(replicas: readonly Service[]) {
  const rows = [];
  for (let round = 0; round < flags.rounds; round++) {
    // A workload no other round asked for: a plan id nobody has solved.
    const url = `${LOOKUP}&seqLen=${100_000 + round}`;
    const [solves, coalesced] = await Promise.all([
      summedMetric(replicas, 'hplb_plan_solves_total'),
      summedMetric(replicas, 'hplb_plan_coalesced_total'),
    ]);
    const start = performance.now();
    const answers = await Promise.all(
      Array.from({ length: flags.burst }, (_, i) =>
        call(replicas[i % replicas.length].base, 'GET', url, undefined, {}, SOLVE_TIMEOUT_MS),
      ),
    );
    const statuses: Record<number, number> = {};
    for (const { status } of answers) statuses[status] = (statuses[status] ?? 0) + 1;
    rows.push({
      burst: flags.burst,
      solves: (await summedMetric(replicas, 'hplb_plan_solves_total')) - solves,
      coalesced: (await summedMetric(replicas, 'hplb_plan_coalesced_total')) - coalesced,
      statuses: JSON.stringify(statuses),
      lastAnswerMs: Math.round(performance.now() - start),
    });
  }
  return rows;
}

async function restartUnderLoad(redis: RedisServer, [a, b]: readonly Service[]) {
  const created = new Map<Service, string>();
  let posted = 0;
  const load = startLoad([a, b], 2, async (service, i) => {
    if (i % 3 === 0) return call(service.base, 'GET', LOOKUP);
    if (i % 3 === 1) {
      // A plan no one has asked for: solved here (a few ms) and written to Redis.
      posted += 1;
      const res = await call(service.base, 'POST', '/v1/plans', { costs: [[posted, 2, 3, 4]], gpus: { count: 2 } });
      const location = res.headers.location;
      if (typeof location === 'string') created.set(service, location);
      return res;
    }
    // The other replica's plan: read from Redis, unless this replica holds it.
    const other = service === a ? b : a;
    return call(service.base, 'GET', created.get(other) ?? LOOKUP);
  });
  load.phase('before');
  await sleep(2000);
  load.phase('down');
  await redis.kill();
  await sleep(flags.down * 1000);
  load.phase('restarting');
  const restarted = performance.now();
  await redis.start();
  await untilStores([a, b], 'ok');
  const okAfterRestartMs = Math.round(performance.now() - restarted);
  load.phase('after');
  await sleep(2000);
  return { downSeconds: flags.down, okAfterRestartMs, phases: await load.stop() };
}

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const services: Service[] = [];
  try {
    // One connection of autocannon stays open for a whole run: past MAX_REQUESTS_PER_SOCKET
    // (1000) the service would close it.
    const common = { SOLVER_WORKERS: '1', MAX_REQUESTS_PER_SOCKET: '100000000', RATE_LIMIT_MAX: '0' };
    const shared = { ...common, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `bench-${Date.now()}:` };
    const started = await Promise.all([
      startService(ROOT, common),
      startService(ROOT, shared),
      startService(ROOT, shared),
      startService(ROOT, { ...shared, CACHE_MAX_BYTES: '1024' }),
    ]);
    services.push(...started);
    const [memory, a, b, remote] = started;
    const sides = { memory, 'redis, local LRU': a, 'redis, every lookup read from Redis': remote };
    const lookups = await cachedLookups(sides);
    const p50 = (store: string) => lookups.find((row) => row.store === store && row.connections === 1)?.p50Ms ?? 0;
    const roundTrip = Math.round((p50('redis, every lookup read from Redis') - p50('memory')) * 1000) / 1000;
    const report = {
      date: new Date().toISOString(),
      settings: flags,
      lookups,
      redisRoundTripMsPerLookup: roundTrip,
      bursts: await coldBursts([a, b]),
      restart: await restartUnderLoad(redis, [a, b]),
    };
    console.table(report.lookups);
    console.log(
      `a Redis round trip per lookup (p50 through Redis - p50 memory, 1 connection): ${report.redisRoundTripMsPerLookup} ms`,
    );
    console.table(report.bursts);
    console.log(
      `Redis restart (down ${report.restart.downSeconds} s): store ok ${report.restart.okAfterRestartMs} ms after it was back`,
    );
    console.table(
      Object.entries(report.restart.phases).map(([phase, stats]) => ({
        phase,
        ...stats,
        statuses: JSON.stringify(stats.statuses),
      })),
    );
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    const file = join(ROOT, 'bench', 'results', `replicas-${report.date.slice(0, 19).replaceAll(':', '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`written to ${file}`);
  } finally {
    for (const service of services) service.child.kill('SIGKILL');
    await redis.stop();
  }
}

await main();
