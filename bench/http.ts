/**
 * `npm run bench:http`: the HTTP service under autocannon, in one run.
 *
 * 1. The cached per-model lookup (GET /v1/models/{id}/plan) against a bare Express route that
 *    sends the same bytes from a minimal app (no middleware) in the same kind of process: req/s
 *    ratio, p50 and p99 latency at 50 connections (5 interleaved rounds, median), and at one
 *    connection (service time), where each server's CPU time per request is also measured (every
 *    thread, and the main thread alone from /proc/<pid>/schedstat). Targets: ratio >= 0.8, p99 < 5 ms.
 * 2. Cold POST /v1/plans latency per flagship profile (8 GPUs, 4 for Qwen2.5-7B; defaults otherwise),
 *    measured first, on a fresh server.
 * 3. /livez p99 while 8 cold solves run. Target: < 50 ms.
 * Both servers run as child processes (`node --import tsx`), logs to /dev/null. Results are
 * printed and written to bench/results/http-<label>-<date>.json. Zero 5xx is checked throughout.
 * `--root <checkout>` measures another checkout's service (the bare server stays this one's), so
 * that two trees can be compared side by side: run once with each root, on the same machine.
 *
 * Run with `--bare <port> --body <file>` it is the bare server itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Command, Option } from 'commander';
import express from 'express';
import { positiveInt } from '../src/cli/options.ts';
import { median } from '../src/kernel/timing.ts';
import { FLAGSHIP_MODEL } from '../src/profiles/flagship.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONNECTIONS = 50;
/** Seconds per measured run; ROUNDS interleaved runs of each side. */
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = 5;
/** One connection: latency is the service time, with no queueing behind other requests. */
const SINGLE = 1;
const LOOKUP_MODEL = FLAGSHIP_MODEL;
/** Flagship profiles and their GPU counts (Qwen2.5-7B's 28 query heads split over 4 GPUs, not 8). */
const FLAGSHIPS: readonly (readonly [string, number])[] = [
  [FLAGSHIP_MODEL, 8],
  ['llama-3.1-8b-instruct-128k-minference', 8],
  ['qwen2.5-7b-instruct-128k-minference', 4],
  ['qwen2.5-14b-instruct-1m-minference', 8],
  ['qwen2.5-32b-instruct-128k-minference', 8],
  ['llama-3-70b-instruct-262k-minference', 8],
];

async function main(): Promise<void> {
  const devNull = openSync('/dev/null', 'w');
  const port = await freePort();
  // autocannon keeps one connection open for the whole one-connection round: past Node's
  // MAX_REQUESTS_PER_SOCKET (1000) every further request on it would be answered 503.
  const env = { PORT: String(port), HOST: '127.0.0.1', MAX_REQUESTS_PER_SOCKET: '100000000' };
  const service = start(['src/server.ts'], env, devNull, flags.root);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${base}/readyz`);
    // Cold first: nothing is cached yet.
    const cold: {
      model: string;
      gpus: number;
      ms: number;
      status: number;
      layersProvenOptimal: number;
      layers: number;
    }[] = [];
    for (const [model, gpus] of FLAGSHIPS) {
      const t0 = performance.now();
      const res = await post(`${base}/v1/plans`, { model, gpus: { count: gpus } });
      const plan = (await res.json()) as { totals?: { layersProvenOptimal: number }; layers?: unknown[] };
      cold.push({
        model,
        gpus,
        ms: performance.now() - t0,
        status: res.status,
        layersProvenOptimal: plan.totals?.layersProvenOptimal ?? 0,
        layers: plan.layers?.length ?? 0,
      });
    }

    const lookup = `${base}/v1/models/${LOOKUP_MODEL}/plan?gpus=8`;
    const first = await fetch(lookup);
    if (first.status !== 200) throw new Error(`lookup answered ${first.status}: ${await first.text()}`);
    const body = await first.text();
    const bodyFile = join(tmpdir(), `hplb-bench-body-${process.pid}.json`);
    writeFileSync(bodyFile, body);
    const barePort = await freePort();
    const bare = start([fileURLToPath(import.meta.url), '--bare', String(barePort), '--body', bodyFile], {}, devNull);
    const bareUrl = `http://127.0.0.1:${barePort}/bare`;
    const rounds: { bare: autocannon.Result; cached: autocannon.Result }[] = [];
    let bareSingle: autocannon.Result;
    let cachedSingle: autocannon.Result;
    let bareCpu: CpuSpent;
    let cachedCpu: CpuSpent;
    try {
      await waitFor(bareUrl);
      await warmUp(bareUrl);
      await warmUp(lookup);
      // Interleaved rounds, so that a change in the machine's load hits both sides alike.
      for (let i = 0; i < ROUNDS; i++) rounds.push({ bare: await load(bareUrl), cached: await load(lookup) });
      [bareSingle, bareCpu] = await withCpu(bare, () => load(bareUrl, SINGLE));
      [cachedSingle, cachedCpu] = await withCpu(service, () => load(lookup, SINGLE));
    } finally {
      bare.kill('SIGTERM');
    }
    const ratios = rounds.map((r) => r.cached.requests.average / r.bare.requests.average);
    const bareResult = medianBy(
      rounds.map((r) => r.bare),
      (r) => r.requests.average,
    );
    const cachedResult = medianBy(
      rounds.map((r) => r.cached),
      (r) => r.requests.average,
    );

    // Eight plans not solved before (other sequence lengths), all at once.
    const solves = Array.from({ length: 8 }, (_, i) => {
      const [model, gpus] = FLAGSHIPS[i % FLAGSHIPS.length];
      return post(`${base}/v1/plans`, {
        model,
        gpus: { count: gpus },
        workload: { seqLen: 32768 + 1024 * i, phase: 'prefill' },
      });
    });
    let solvesDone = false;
    const solving = Promise.all(solves).then((all) => {
      solvesDone = true;
      return all.map((r) => r.status);
    });
    const livez = await loadUntil(`${base}/livez`, 10, () => solvesDone);
    const solveStatuses = await solving;

    const ratio = median(ratios);
    const report = {
      date: new Date().toISOString(),
      machine: `${process.platform}-${process.arch}, node ${process.version}`,
      connections: CONNECTIONS,
      durationS: DURATION_S,
      rounds: ROUNDS,
      cachedLookup: summary(cachedResult),
      bareExpress: summary(bareResult),
      throughputRatio: ratio,
      throughputRatioPerRound: ratios,
      oneConnection: {
        cachedLookup: { ...summary(cachedSingle), ...perRequest(cachedCpu, cachedSingle) },
        bareExpress: { ...summary(bareSingle), ...perRequest(bareCpu, bareSingle) },
      },
      coldPost: cold,
      livezDuringSolves: { ...summary(livez), solveStatuses },
      targets: {
        'cached throughput >= 0.8x bare': ratio >= 0.8,
        'cached p99 < 5 ms (saturated)': cachedResult.latency.p99 < 5,
        'cached p99 < 5 ms (one connection)': cachedSingle.latency.p99 < 5,
        'livez p99 < 50 ms during solves': livez.latency.p99 < 50,
        'no 5xx':
          [...rounds.flatMap((r) => [r.bare, r.cached]), cachedSingle, bareSingle, livez].every(
            (r) => r['5xx'] === 0,
          ) &&
          solveStatuses.every((s) => s < 500) &&
          cold.every((c) => c.status < 500),
      },
    };
    print(report);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    const stamp = report.date.slice(0, 19).replaceAll(':', '-');
    const file = join(ROOT, 'bench', 'results', `http-${flags.label}-${stamp}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwritten to ${file}`);
  } finally {
    service.kill('SIGTERM');
  }
}

function start(args: string[], env: Record<string, string>, out: number, cwd = ROOT): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, 'inherit'],
  });
}

/** CPU time a child process spent during `run`, microseconds (Linux /proc): every thread, and its main thread alone. */
interface CpuSpent {
  readonly all: number;
  readonly main: number;
}

async function withCpu<T>(child: ChildProcess, run: () => Promise<T>): Promise<[T, CpuSpent]> {
  const all = (): number => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime, fields 14 and 15 of stat, in clock ticks (USER_HZ = 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  };
  // The main thread's (the event loop's) time on the CPU, in ns: exact, where ticks are 10 ms.
  const main = (): number => Number(readFileSync(`/proc/${child.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  const before = { all: all(), main: main() };
  const result = await run();
  return [result, { all: all() - before.all, main: main() - before.main }];
}

const perRequest = (cpu: CpuSpent, r: autocannon.Result) => ({
  serverCpuUsPerRequest: cpu.all / r.requests.total,
  serverMainThreadCpuUsPerRequest: cpu.main / r.requests.total,
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function warmUp(url: string): Promise<void> {
  await autocannon({ url, connections: CONNECTIONS, duration: 2 });
}

/** One measured run, as fast as the connections go. */
function load(url: string, connections = CONNECTIONS): Promise<autocannon.Result> {
  return autocannon({ url, connections, duration: DURATION_S });
}

/** The run whose `by` is the median (the lower middle one for an even count). */
function medianBy<T>(xs: readonly T[], by: (x: T) => number): T {
  return [...xs].sort((a, b) => by(a) - by(b))[Math.floor((xs.length - 1) / 2)];
}

/** Loads `url` until `done()` turns true (checked every 100 ms), at least 1 s. */
function loadUntil(url: string, connections: number, done: () => boolean): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections, duration: 600 }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
    const started = Date.now();
    const timer = setInterval(() => {
      if (done() && Date.now() - started > 1000) {
        clearInterval(timer);
        instance.stop();
      }
    }, 100);
  });
}

function summary(r: autocannon.Result): Record<string, number> {
  return {
    requestsPerSecond: r.requests.average,
    requests: r.requests.total,
    p50Ms: r.latency.p50,
    p90Ms: r.latency.p90,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    non2xx: r.non2xx,
    '5xx': r['5xx'],
    errors: r.errors,
    durationS: r.duration,
  };
}

function print(report: {
  cachedLookup: Record<string, number>;
  bareExpress: Record<string, number>;
  throughputRatio: number;
  throughputRatioPerRound: number[];
  oneConnection: { cachedLookup: Record<string, number>; bareExpress: Record<string, number> };
  coldPost: { model: string; gpus: number; ms: number; status: number; layersProvenOptimal: number; layers: number }[];
  livezDuringSolves: Record<string, unknown>;
  targets: Record<string, boolean>;
}): void {
  const row = (name: string, s: Record<string, number>): string =>
    `${name.padEnd(26)} ${s.requestsPerSecond.toFixed(0).padStart(8)} req/s ` +
    ` p50 ${s.p50Ms.toFixed(2).padStart(6)} ms  p99 ${s.p99Ms.toFixed(2).padStart(6)} ms  non-2xx ${s.non2xx}`;
  console.log(`\n${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION_S} s (median round shown)`);
  console.log(row('bare Express route', report.bareExpress));
  console.log(row('cached per-model lookup', report.cachedLookup));
  console.log(
    `throughput ratio (cached / bare), median of rounds: ${report.throughputRatio.toFixed(3)}` +
      ` (${report.throughputRatioPerRound.map((r) => r.toFixed(3)).join(', ')})`,
  );
  console.log('\none connection (service time; server CPU per request)');
  const cpuOf = (r: Record<string, number>): string =>
    `  server CPU ${r.serverCpuUsPerRequest.toFixed(0)} us/request (main thread ${r.serverMainThreadCpuUsPerRequest.toFixed(0)})`;
  console.log(row('bare Express route', report.oneConnection.bareExpress) + cpuOf(report.oneConnection.bareExpress));
  console.log(
    row('cached per-model lookup', report.oneConnection.cachedLookup) + cpuOf(report.oneConnection.cachedLookup),
  );
  console.log('\ncold POST /v1/plans (default engine and time limit):');
  for (const c of report.coldPost)
    console.log(
      `  ${c.model.padEnd(40)} ${String(c.gpus).padStart(2)} GPUs ${c.ms.toFixed(0).padStart(6)} ms  ${c.status}  proven ${c.layersProvenOptimal}/${c.layers}`,
    );
  const l = report.livezDuringSolves as unknown as Record<string, number> & { solveStatuses: number[] };
  console.log(
    `\n/livez during 8 cold solves: p50 ${l.p50Ms.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms,` +
      ` max ${l.maxMs.toFixed(2)} ms over ${l.durationS.toFixed(1)} s; solve statuses ${l.solveStatuses.join(' ')}`,
  );
  console.log('\ntargets:');
  for (const [name, ok] of Object.entries(report.targets)) console.log(`  ${ok ? 'met   ' : 'MISSED'} ${name}`);
}

const flags = new Command('bench:http')
  .addOption(
    new Option('--bare <port>', 'run as the bare server on <port> (used by the benchmark itself)')
      .argParser(positiveInt)
      .hideHelp(),
  )
  .addOption(new Option('--body <file>', 'what the bare server sends').hideHelp())
  .option('--root <dir>', 'the checkout whose service is measured', ROOT)
  .option('--label <label>', 'the name of this run in the results file', 'current')
  .parse()
  .opts<{ bare?: number; body?: string; root: string; label: string }>();
if (flags.bare !== undefined) {
  const body = readFileSync(flags.body ?? '', 'utf8');
  const app = express();
  app.get('/bare', (_req, res) => {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(body);
  });
  app.listen(flags.bare, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}
