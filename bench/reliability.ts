/**
 * `npm run bench:reliability [-- --root <checkout>]`: the service under attack, class by class,
 * as an operator's security review would run it (bounded counts, a few minutes on 2 cores).
 *
 * For each class: requests sent, answers by status, 5xx, crashes (the service is restarted after
 * one), /livez p99 and max (probed every 25 ms from a thread of its own), and peak RSS sampled
 * every 100 ms. The worker-overrun class reports the worst overrun of limit + 10% + 100 ms; the
 * probes class runs on a second service with default limits. Prints a table and a JSON summary,
 * also written to bench/results/reliability-<date>.json.
 *
 * `--root` points at another checkout (the code before a change): the same attacks, its server.
 * `--only <word>` runs only the classes whose name contains the word (e.g. `--only overrun`).
 * `--node-args "<args>"` starts the service with these node options (e.g. `--cpu-prof`).
 * `--unread-depth <n>`: GETs per unread pipeline in the slowloris class (50; 1000 shows what the
 * connection guard bounds: the memory of answers written for nobody).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { positiveInt } from '../src/cli/options.ts';
import {
  cacheFlood,
  coldSolves,
  fuzz,
  oversized,
  overrun,
  probes,
  sigterm,
  slowAndUnread,
  type AttackContext,
  type AttackResult,
  type AttackRun,
} from './reliability-attacks.ts';
import { call, percentile, startProber, startService, type Service } from './reliability-client.ts';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const values = new Command('bench:reliability')
  .option('--root <dir>', 'the checkout whose service is attacked', HERE)
  .option('--label <label>', 'the name of this run in the summary', 'current')
  .option('--only <word>', 'only the attack classes whose name contains the word', '')
  .option('--node-args <args>', 'node options for the service, space-separated (e.g. --cpu-prof)', '')
  .option('--unread-depth <n>', 'GETs each unread pipeline sends at once (slowloris class)', positiveInt, 50)
  .parse()
  .opts<{ root: string; label: string; only: string; nodeArgs: string; unreadDepth: number }>();
const ROOT = values.root;
const NODE_ARGS = values.nodeArgs.split(' ').filter(Boolean);
const KEY = 'bench-key-0123456789';
/** How long the /livez prober runs before each attack; its samples from then are discarded. */
const PROBER_SETTLE_MS = 300;
/** The main service: keys on, rate limit out of the way (the probes class checks it on its own service). */
const MAIN_ENV = { API_KEYS: KEY, RATE_LIMIT_MAX: '1000000' };
const PROBE_ENV = { API_KEYS: 'probe-key-0123456789' };

interface Row {
  readonly attack: string;
  readonly requests: number;
  readonly statuses: Record<string, number>;
  readonly fiveHundreds: number;
  readonly crashes: number;
  readonly livezP99Ms: number;
  readonly livezMaxMs: number;
  /** The service's own event-loop delay max during the class (monitorEventLoopDelay, from /metrics). */
  readonly eventLoopMaxMs: number | null;
  readonly peakRssMb: number;
  readonly seconds: number;
  readonly notes: Record<string, number | string>;
}

const CLASSES: readonly [string, (ctx: AttackContext) => AttackRun, 'main' | 'probe'][] = [
  ['schema fuzz', fuzz, 'main'],
  ['oversized problems', oversized, 'main'],
  ['cold solves', coldSolves, 'main'],
  ['cache flood', cacheFlood, 'main'],
  ['slowloris + unread pipelines', slowAndUnread, 'main'],
  ['worker overrun', overrun, 'main'],
  ['security probes', probes, 'probe'],
  ['SIGTERM under load', sigterm, 'main'],
];

async function main(): Promise<void> {
  const rows: Row[] = [];
  let service = await startService(ROOT, MAIN_ENV, NODE_ARGS);
  let peakOverall = 0;
  const chosen = CLASSES.filter(([name]) => name.toLowerCase().includes(values.only.toLowerCase()));
  if (chosen.length === 0) throw new Error(`--only ${values.only}: no attack class has that in its name`);
  for (const [name, attack, which] of chosen) {
    const target = which === 'main' ? service : await startService(ROOT, PROBE_ENV, NODE_ARGS);
    // Built and serialised before anything is measured.
    const run = attack({ service: target, auth: { authorization: `Bearer ${KEY}` }, unreadDepth: values.unreadDepth });
    const prober = startProber(target.base);
    // The prober's first request pays for its own thread's start-up and first connection; started
    // together with an attack it read 30-140 ms on 2 cores where a settled prober reads under 10 ms.
    // Discard what it measured before the attack.
    await new Promise((resolve) => setTimeout(resolve, PROBER_SETTLE_MS));
    await prober.take();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, target.rss().now);
    }, 100);
    const started = performance.now();
    const key = which === 'main' ? KEY : PROBE_ENV.API_KEYS;
    // A scrape resets the service's event-loop delay histogram; the one after the attack reads its max.
    await eventLoopMaxMs(target.base, key);
    const serviceCpu = target.cpuSeconds();
    const benchCpu = process.cpuUsage();
    let result: AttackResult;
    try {
      result = await run();
    } catch (error) {
      result = { answers: [], notes: { error: String(error) } };
    }
    clearInterval(sampler);
    // Who used the CPUs: on a small machine the bench's own client competes with the service.
    const cpu = process.cpuUsage(benchCpu);
    const cpuNotes = {
      ...(target.alive() ? { serviceCpuS: round(target.cpuSeconds() - serviceCpu) } : {}),
      benchCpuS: round((cpu.user + cpu.system) / 1e6),
    };
    const afterAttack = target.alive() ? await eventLoopMaxMs(target.base, key) : null;
    // A class that scraped /metrics itself reports the max it read there; the scrape after adds the rest.
    const scraped = result.notes?.eventLoopMaxMs;
    const loopMax = typeof scraped === 'number' ? Math.max(scraped, afterAttack ?? 0) : afterAttack;
    const livez = await prober.take();
    await prober.stop();
    peak = Math.max(peak, target.rss().peak);
    const crashed = !target.alive() && name !== 'SIGTERM under load';
    const failures = result.answers.filter((a) => a.status === 0).map((a) => a.body.toString('utf8'));
    const notes = {
      ...result.notes,
      ...cpuNotes,
      ...(failures.length > 0 ? { connectionErrors: [...new Set(failures)].join('; ').slice(0, 120) } : {}),
    };
    const statuses: Record<string, number> = {};
    for (const a of result.answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    rows.push({
      attack: name,
      requests: result.answers.length,
      statuses,
      fiveHundreds: result.answers.filter((a) => a.status >= 500 && a.status !== 503).length,
      crashes: crashed ? 1 : 0,
      livezP99Ms: round(percentile(livez, 99)),
      livezMaxMs: round(Math.max(0, ...livez)),
      eventLoopMaxMs: loopMax === null ? null : round(loopMax),
      peakRssMb: round(peak),
      seconds: round((performance.now() - started) / 1000),
      notes,
    });
    peakOverall = Math.max(peakOverall, peak);
    console.error(`${name}: done in ${rows.at(-1)!.seconds} s`);
    if (which === 'probe') await stop(target);
    else if (crashed) service = await startService(ROOT, MAIN_ENV, NODE_ARGS);
  }
  if (service.alive()) await stop(service);

  printTable(rows);
  const summary = {
    label: values.label,
    root: ROOT,
    date: new Date().toISOString(),
    peakRssMb: round(peakOverall),
    rows,
  };
  console.log(JSON.stringify(summary, null, 2));
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    new URL(`reliability-${values.label}-${summary.date.slice(0, 10)}.json`, dir),
    `${JSON.stringify(summary, null, 2)}\n`,
  );
}

async function stop(service: Service): Promise<void> {
  service.child.kill('SIGTERM');
  await service.exited;
}

function printTable(rows: readonly Row[]): void {
  const header = [
    'attack',
    'requests',
    'statuses',
    '5xx',
    'crashes',
    'livez p99',
    'livez max',
    'event loop max',
    'peak RSS MB',
    's',
    'notes',
  ];
  const lines = rows.map((r) => [
    r.attack,
    String(r.requests),
    Object.entries(r.statuses)
      .map(([s, n]) => `${s}:${n}`)
      .join(' '),
    String(r.fiveHundreds),
    String(r.crashes),
    String(r.livezP99Ms),
    String(r.livezMaxMs),
    r.eventLoopMaxMs === null ? '-' : String(r.eventLoopMaxMs),
    String(r.peakRssMb),
    String(r.seconds),
    Object.entries(r.notes)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log([fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n'));
}

const round = (x: number): number => Math.round(x * 10) / 10;

await main();

/**
 * The service's event-loop delay max since the last scrape, in ms (prom-client resets it at each
 * scrape); null when /metrics cannot be read.
 */
async function eventLoopMaxMs(base: string, key: string): Promise<number | null> {
  const res = await call(base, 'GET', '/metrics', undefined, { authorization: `Bearer ${key}` }).catch(() => null);
  const m = res?.status === 200 ? /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(res.body.toString('utf8')) : null;
  return m ? Number(m[1]) * 1000 : null;
}
