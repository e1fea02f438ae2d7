/**
 * `npm run bench:http-cpu -- --root <checkout> [--root <checkout> ...]`: server CPU per cached
 * per-model lookup, several checkouts side by side in one run. Each checkout's service runs as a
 * child process (logs to /dev/null); after a warm-up, rounds of `--requests` lookups at
 * `--connections` go to each service in turn (the order alternating between rounds), and the CPU
 * each service spent in the round is read from /proc: its main thread (the event loop, exact in ns
 * from /proc/<pid>/task/<pid>/schedstat) and every thread. CPU time, unlike latency, hardly moves
 * with the machine's load, so two trees can be compared on a busy machine; medians are reported,
 * with the lookups per second of the same rounds (wall clock, so only a side-by-side ratio tells).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { Command } from 'commander';
import { positiveInt } from '../src/cli/options.ts';
import { median } from '../src/kernel/timing.ts';
import { FLAGSHIP_MODEL } from '../src/profiles/flagship.ts';

const flags = new Command('bench:http-cpu')
  .option('--root <dir...>', 'checkouts whose services are compared (one or more)', [process.cwd()])
  .option('--rounds <n>', 'measured rounds per service', positiveInt, 7)
  .option('--requests <n>', 'lookups per round', positiveInt, 3000)
  .option('--connections <n>', 'connections per round', positiveInt, 1)
  .parse()
  .opts<{ root: string[]; rounds: number; requests: number; connections: number }>();
const PATH = `/v1/models/${FLAGSHIP_MODEL}/plan?gpus=8`;

interface Service {
  readonly root: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly mainUs: number[];
  readonly allUs: number[];
  /** Lookups per second of each round (wall clock: this one moves with the machine's load). */
  readonly perSecond: number[];
}

/** CPU time of one thread of `pid` (the main thread when `tid` is `pid`), microseconds. */
const threadUs = (pid: number, tid: string): number =>
  Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1000;

/** CPU time of every live thread of `pid`, microseconds (a thread that ends during the read counts 0). */
function processUs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += threadUs(pid, tid);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

function start(root: string, port: number, out: number): Service {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    // One connection keeps its socket for the whole run: past MAX_REQUESTS_PER_SOCKET Node answers 503.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', MAX_REQUESTS_PER_SOCKET: '100000000' },
    stdio: ['ignore', out, 'inherit'],
  });
  return { root, child, url: `http://127.0.0.1:${port}${PATH}`, mainUs: [], allUs: [], perSecond: [] };
}

async function ready(service: Service): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(service.url).catch(() => null);
    if (res?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${service.root}: the lookup did not answer 200`);
}

async function round(service: Service): Promise<void> {
  const pid = service.child.pid!;
  const before = { main: threadUs(pid, String(pid)), all: processUs(pid) };
  const startedAt = performance.now();
  const result = await autocannon({ url: service.url, connections: flags.connections, amount: flags.requests });
  const seconds = (performance.now() - startedAt) / 1000;
  if (result.non2xx > 0) throw new Error(`${service.root}: ${result.non2xx} answers were not 2xx`);
  service.mainUs.push((threadUs(pid, String(pid)) - before.main) / result.requests.total);
  service.allUs.push((processUs(pid) - before.all) / result.requests.total);
  service.perSecond.push(result.requests.total / seconds);
}

const devNull = openSync('/dev/null', 'w');
const services = flags.root.map((root, i) => start(root, 19_300 + (process.pid % 500) * 4 + i, devNull));
try {
  for (const service of services) {
    await ready(service);
    await autocannon({ url: service.url, connections: flags.connections, amount: flags.requests });
  }
  for (let i = 0; i < flags.rounds; i++) {
    for (const service of i % 2 === 0 ? services : [...services].reverse()) await round(service);
  }
  console.log(`${flags.rounds} rounds of ${flags.requests} cached lookups at ${flags.connections} connection(s):`);
  for (const s of services) {
    const rounds = s.mainUs.map((us) => us.toFixed(0)).join(' ');
    console.log(
      `${s.root}: main thread ${median(s.mainUs).toFixed(1)} us/request (rounds: ${rounds}), ` +
        `every thread ${median(s.allUs).toFixed(1)} us/request, ${median(s.perSecond).toFixed(0)} lookups/s`,
    );
  }
} finally {
  for (const s of services) s.child.kill('SIGTERM');
}
