/**
 * `npm run bench:stored-plan`: event-loop time of the requests that read a stored plan, for the
 * largest plan the default limits admit (1024 layers x 32 query heads on 8 GPUs, re-planned once
 * from a drifted problem so that every layer also carries its moves), in the service's own process.
 *  - replan: POST /v1/plans with previous.planId naming that plan (answered from the cache after
 *    the first: what is left is reading the stored plan and resolving the migration), beside the
 *    same body without previous (what the request costs besides the stored plan);
 *  - ranks: GET /v1/plans/{planId}/ranks of that plan;
 *  - budgets: POST /v1/budgets with the largest body the default limits accept (a body worker
 *    computes the answer; what the event loop does is send it).
 * Per request: the longest stretch the service's event loop was blocked (the longest gap between
 * turns of a 1 ms timer) and its busy time (eventLoopUtilization's active time); the
 * client runs in a worker thread, so both are the service's alone. Medians and minima over
 * --rounds requests, with BODY_WORKERS=1 and 0; on a loaded machine the minima are the least
 * disturbed.
 * Prints a table and JSON (also written to bench/results/stored-plan-<label>-<date>.json).
 */
import { requestLimitsOf } from '../src/planner/limits.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Command } from 'commander';
import { pino } from 'pino';
import { positiveInt } from '../src/cli/options.ts';
import { textTable } from '../src/cli/format.ts';
import { loadConfig } from '../src/config.ts';
import { createCostModelResolver } from '../src/cost/registry.ts';
import { buildApp } from '../src/http/app.ts';
import { createBodyPool } from '../src/http/body-pool.ts';
import { median } from '../src/kernel/timing.ts';
import { createSolverPool } from '../src/pool/solver-pool.ts';
import { loadRegistry } from '../src/profiles/registry.ts';
import { createRandom } from '../src/random.ts';

const flags = new Command('bench:stored-plan')
  .option('--rounds <n>', 'measured requests per case', positiveInt, 15)
  .option('--label <name>', 'label of this run in the JSON', 'current')
  .parse()
  .opts<{ rounds: number; label: string }>();

const LAYERS = 1024;
const UNITS = 32;
const GPUS = 8;
const KV_GROUP = 4;
const SEED = 20261129;

interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

interface Sample {
  readonly blockMs: number;
  readonly busyMs: number;
}

/**
 * The client thread (plain JS, so it needs no TypeScript loader): it keeps named request bodies
 * and answers each request with the status and the answer's bytes (transferred, not copied).
 */
const CLIENT = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true });
const bodies = new Map();
parentPort.on('message', (m) => {
  if (m.store) { bodies.set(m.store, Buffer.from(m.bytes)); parentPort.postMessage({ stored: m.store }); return; }
  const body = m.body === undefined ? undefined : bodies.get(m.body);
  const headers = body ? { 'content-type': 'application/json', 'content-length': body.length } : {};
  const req = http.request({ host: '127.0.0.1', port: m.port, method: m.method, path: m.path, agent, headers }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const bytes = new Uint8Array(Buffer.concat(chunks));
      parentPort.postMessage({ status: res.statusCode, bytes }, [bytes.buffer]);
    });
  });
  req.on('error', (e) => parentPort.postMessage({ error: e.message }));
  req.end(body);
});`;

const client = new Worker(CLIENT, { eval: true });

/** The client's next message (one request at a time). */
const reply = (): Promise<{ status?: number; bytes?: Uint8Array; error?: string }> =>
  new Promise((resolve) => client.once('message', resolve));

/** Hands a request body to the client once, by name (outside what is measured). */
async function store(name: string, body: unknown): Promise<string> {
  client.postMessage({ store: name, bytes: Buffer.from(JSON.stringify(body)) });
  await reply();
  return name;
}

/** A request through the client thread; `body` names a stored body. */
async function call(port: number, method: string, path: string, body?: string): Promise<Answer> {
  const answer = reply();
  client.postMessage({ port, method, path, body });
  const { status, bytes, error } = await answer;
  if (error !== undefined || status === undefined || bytes === undefined) throw new Error(`request failed: ${error}`);
  return { status, body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/**
 * One request, with the event loop watched: the longest gap between turns of a 1 ms interval
 * timer (the longest the loop was blocked, plus up to 1 ms), and eventLoopUtilization's active time.
 */
async function measured(send: () => Promise<Answer>, expect: number): Promise<Sample & { bytes: number }> {
  let last = performance.now();
  let longest = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const before = performance.eventLoopUtilization();
  const answer = await send();
  // A block just before the answer shows when the probe next runs.
  await sleep(3);
  clearInterval(probe);
  const busy = performance.eventLoopUtilization(before);
  if (answer.status !== expect) throw new Error(`answered ${answer.status}: ${answer.body.toString().slice(0, 300)}`);
  return { blockMs: longest, busyMs: busy.active, bytes: answer.body.length };
}

function costsOf(random: () => number, drift: number): number[][] {
  return Array.from({ length: LAYERS }, () =>
    Array.from({ length: UNITS }, () => Math.round(1000 * (1 + drift * random()) * Math.exp(random()))),
  );
}

/** The largest budgets body the default limits accept: as many one-point curves as MAX_BODY_CONTAINERS allows. */
function largestBudgets(maxContainers: number, maxBytes: number): object {
  const curves: object[] = [];
  // Sixteen distinct budgets: costing each distinct budget is what takes the worker's time.
  const curve = (i: number) => ({
    layer: Math.floor(i / 64),
    head: i % 64,
    points: [{ budget: 1 + (i % 16), recovery: 0.95 }],
  });
  // An object, its points array and one point: three containers per curve, two for the body and its list.
  const count = Math.floor((maxContainers - 2) / 3);
  let bytes = 40;
  for (let i = 0; i < count; i++) {
    bytes += JSON.stringify(curve(i)).length + 1;
    if (bytes > maxBytes) break;
    curves.push(curve(i));
  }
  return { target: 0.9, curves };
}

interface Case {
  readonly name: string;
  readonly bodyWorkers: number;
  readonly bytes: number;
  /** Medians and minima over the rounds (on a loaded machine the minimum is the least disturbed). */
  readonly blockMs: number;
  readonly blockMinMs: number;
  readonly busyMs: number;
  readonly busyMinMs: number;
}

async function runWith(bodyWorkers: number): Promise<Case[]> {
  const config = loadConfig({ BODY_WORKERS: String(bodyWorkers), RATE_LIMIT_MAX: '0', LOG_LEVEL: 'silent' });
  const pool = createSolverPool({ size: 1 });
  const bodyPool =
    bodyWorkers > 0
      ? createBodyPool({
          size: bodyWorkers,
          maxQueued: config.maxQueuedBodies,
          timeLimitMs: config.bodyTimeLimitMs,
          data: { limits: requestLimitsOf(config), maxBodyContainers: config.maxBodyContainers },
        })
      : undefined;
  await Promise.all([pool.ready(), bodyPool?.ready()]);
  const hplb = buildApp({
    config,
    runner: pool,
    registry: loadRegistry(),
    logger: pino({ level: 'silent' }),
    resolveCostModel: createCostModelResolver(),
    publicDir: null,
    ...(bodyPool ? { bodyPool } : {}),
  });
  const server: Server = await new Promise((resolve) => {
    const s = hplb.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  try {
    const random = createRandom(SEED);
    const problem = {
      gpus: { count: GPUS },
      constraints: { unitsPerGpu: 'equal' },
      kvGroupSize: KV_GROUP,
      solver: { engine: 'greedy' },
    };
    const first = await call(
      port,
      'POST',
      '/v1/plans',
      await store('first', { ...problem, costs: costsOf(random, 0) }),
    );
    if (first.status !== 201) throw new Error(`first plan: ${first.status} ${first.body.toString().slice(0, 300)}`);
    const firstId = (JSON.parse(first.body.toString()) as { id: string }).id;
    const drifted = { ...problem, costs: costsOf(random, 0.5) };
    const stored = await call(
      port,
      'POST',
      '/v1/plans',
      await store('stored', { ...drifted, previous: { planId: firstId } }),
    );
    if (stored.status !== 201) throw new Error(`stored plan: ${stored.status} ${stored.body.toString().slice(0, 300)}`);
    const storedId = (JSON.parse(stored.body.toString()) as { id: string }).id;
    console.error(`stored plan ${storedId}: ${stored.body.length} bytes`);
    const replanCosts = costsOf(random, 0.5);
    const replan = await store('replan', { ...problem, costs: replanCosts, previous: { planId: storedId } });
    // The same body without previous: what the re-plan costs besides reading the stored plan.
    const plain = await store('plain', { ...problem, costs: replanCosts });
    const budgets = await store('budgets', largestBudgets(config.maxBodyContainers, config.maxBodyBytes));
    const cases: [string, () => Promise<Answer>, number][] = [
      ['plan (same body, no previous)', () => call(port, 'POST', '/v1/plans', plain), 200],
      ['replan', () => call(port, 'POST', '/v1/plans', replan), 200],
      ['ranks', () => call(port, 'GET', `/v1/plans/${storedId}/ranks?kvGroupSize=${KV_GROUP}`), 200],
      ['budgets', () => call(port, 'POST', '/v1/budgets', budgets), 200],
    ];
    // The first request of each plan solves it; the measured ones find it stored.
    for (const body of [plain, replan]) {
      const warm = await call(port, 'POST', '/v1/plans', body);
      if (warm.status !== 201) throw new Error(`${body}: ${warm.status} ${warm.body.toString().slice(0, 300)}`);
    }
    const results: Case[] = [];
    for (const [name, send, expect] of cases) {
      await measured(send, expect);
      const samples: (Sample & { bytes: number })[] = [];
      for (let i = 0; i < flags.rounds; i++) samples.push(await measured(send, expect));
      results.push({
        name,
        bodyWorkers,
        bytes: samples[0].bytes,
        blockMs: round(median(samples.map((s) => s.blockMs))),
        blockMinMs: round(Math.min(...samples.map((s) => s.blockMs))),
        busyMs: round(median(samples.map((s) => s.busyMs))),
        busyMinMs: round(Math.min(...samples.map((s) => s.busyMs))),
      });
    }
    return results;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await Promise.all([pool.close(), bodyPool?.close()]);
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

const rows = [...(await runWith(1)), ...(await runWith(0))];
await client.terminate();
console.log(
  textTable(
    ['case', 'BODY_WORKERS', 'answer bytes', 'longest block ms (median / min)', 'loop busy ms (median / min)'],
    rows.map((r) => [
      r.name,
      String(r.bodyWorkers),
      String(r.bytes),
      `${r.blockMs} / ${r.blockMinMs}`,
      `${r.busyMs} / ${r.busyMinMs}`,
    ]),
  ),
);
const summary = { label: flags.label, date: new Date().toISOString(), rounds: flags.rounds, rows };
console.log(JSON.stringify(summary, null, 2));
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(
  new URL(`stored-plan-${flags.label}-${summary.date.slice(0, 10)}.json`, dir),
  `${JSON.stringify(summary, null, 2)}\n`,
);
