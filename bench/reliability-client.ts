/**
 * The reliability bench's tools: the service as a child process (port, RSS, exit), an HTTP
 * client that records statuses, a /livez prober on a thread of its own, and raw sockets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

export interface Service {
  readonly base: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Current and peak (high-water) resident set size in MB, from /proc; 0 once gone. */
  rss(): { now: number; peak: number };
  /** CPU seconds the process has used so far, every thread (user + system, from /proc); 0 once gone. */
  cpuSeconds(): number;
}

/**
 * Starts `node [nodeArgs] --import tsx <root>/src/server.ts` on a free port and waits for /readyz
 * (nodeArgs: e.g. --cpu-prof, which NODE_OPTIONS does not take).
 */
export async function startService(
  root: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): Promise<Service> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let running = true;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false;
      resolve(code ?? signal ?? -1);
    }),
  );
  child.stderr!.on('data', (chunk: Buffer) =>
    process.stderr.write(`[service] ${chunk.toString('utf8').slice(0, 400)}`),
  );
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const m = /"msg":"listening"/.test(text) ? /"port":(\d+)/.exec(text) : null;
      if (m) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`service exited with ${code} before listening`)));
    setTimeout(() => reject(new Error('service did not log "listening" within 60 s')), 60_000).unref();
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const res = await call(base, 'GET', '/readyz').catch(() => null);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const field = (name: string): number => {
    try {
      const m = new RegExp(`${name}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  return {
    base,
    port,
    child,
    exited,
    alive: () => running,
    rss: () => ({ now: field('VmRSS'), peak: field('VmHWM') }),
    cpuSeconds: () => {
      try {
        // Fields 14 and 15 of /proc/<pid>/stat, after the command name in parentheses.
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
      } catch {
        return 0;
      }
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly ms: number;
}

/** USER_HZ of /proc times (100 on Linux). */
const CLOCK_TICKS = 100;

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One request; status 0 when the connection failed or `timeoutMs` passed. A request that failed
 * on a reused keep-alive socket (the server closed it while idle: a race every HTTP client must
 * handle) is sent once more on a new one.
 */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<Answer> {
  const first = await callOnce(base, method, path, body, headers, timeoutMs);
  return first.status === 0 && first.reused ? callOnce(base, method, path, body, headers, timeoutMs) : first;
}

function callOnce(
  base: string,
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Answer & { reused?: boolean }> {
  const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const start = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        timeout: timeoutMs,
        headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            ms: performance.now() - start,
          }),
        );
        res.on('error', () =>
          resolve({ status: 0, headers: {}, body: Buffer.alloc(0), ms: performance.now() - start }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) =>
      resolve({
        status: 0,
        headers: {},
        body: Buffer.from(error.message),
        ms: performance.now() - start,
        reused: req.reusedSocket,
      }),
    );
    req.end(data);
  });
}

/** Runs `jobs` with at most `concurrency` at once. */
export async function runPool<T>(jobs: readonly (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

/** Sends raw bytes and collects what comes back until the socket closes or `waitMs` passes. */
export function raw(port: number, bytes: string, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = (): void => {
      socket.destroy();
      resolve(text);
    };
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.on('close', done);
    socket.on('error', done);
    socket.setTimeout(waitMs, done);
    socket.write(bytes);
  });
}

/** Opens a socket and leaves it to the caller (slowloris, unread pipelines). */
export function open(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', () => undefined);
  });
}

const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let samples = [];
function probe() {
  const start = performance.now();
  let settled = false;
  const finish = () => {
    if (settled) return;
    settled = true;
    samples.push(performance.now() - start);
    setTimeout(probe, 25);
  };
  const req = http.get(workerData.base + '/livez', { agent, timeout: 15000 }, (res) => { res.resume(); res.on('end', finish); });
  req.on('timeout', () => req.destroy());
  req.on('error', finish);
}
probe();
parentPort.on('message', () => { parentPort.postMessage(samples); samples = []; });
`;

/** /livez every 25 ms from a thread of its own, so the bench's own work does not delay it. */
export function startProber(base: string): { take(): Promise<number[]>; stop(): Promise<number> } {
  const worker = new Worker(PROBER, { eval: true, workerData: { base } });
  return {
    take: () =>
      new Promise((resolve) => {
        worker.once('message', (samples: number[]) => resolve(samples));
        worker.postMessage('take');
      }),
    stop: () => worker.terminate(),
  };
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A deterministic pseudo-random source (the bench must send the same requests every run). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 4294967296;
  };
}
