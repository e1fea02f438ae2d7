/**
 * A real redis-server for one test file: started on a free loopback port with no persistence,
 * stopped by the file's `after` hook, and killed when the test process exits or is interrupted,
 * so no server outlives a failing or cancelled run. It can be stopped and started again on the same port (a
 * Redis restart), killed outright, and frozen (SIGSTOP: a Redis that accepts and never answers).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { REDIS_SERVER_PATH } from '../requirements.ts';

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Starts it again on the same port (after stop or kill), with an empty data set. */
  start(): Promise<void>;
  /** SIGTERM, and waits for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL, and waits for it to exit. */
  kill(): Promise<void>;
  /** Stops it answering (SIGSTOP) until `thaw`: connections stay open, commands hang. */
  freeze(): void;
  thaw(): void;
}

/** A loopback port free a moment ago (the server retries on another if it was taken meanwhile). */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  if (address === null || typeof address === 'string') throw new Error('no TCP address for a free port');
  return address.port;
}

/** Resolves when redis-server logs that it accepts connections; rejects if it exits first. */
async function untilReady(child: ChildProcess, port: number): Promise<void> {
  const lines = createInterface({ input: child.stdout! });
  const log: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        log.push(line);
        if (line.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`redis-server on port ${port} exited (${code ?? signal}):\n${log.join('\n')}`)),
      );
    });
  } finally {
    lines.close();
    // Keep draining its output so a chatty server never blocks on a full pipe.
    child.stdout?.resume();
  }
}

function launch(port: number): ChildProcess {
  return spawn(
    REDIS_SERVER_PATH,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
}

const running = new Set<ChildProcess>();
const killAll = (): void => {
  for (const child of running) child.kill('SIGKILL');
};
process.on('exit', killAll);
// A signal ends the process without 'exit': kill the servers, then let the signal do what it would.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });

async function ended(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exit = once(child, 'exit');
  // A frozen server must run again to act on SIGTERM.
  child.kill('SIGCONT');
  child.kill(signal);
  await exit;
}

export async function startRedisServer(): Promise<RedisServer> {
  let child: ChildProcess | undefined;
  let port = 0;
  const run = async (): Promise<void> => {
    const next = launch(port);
    running.add(next);
    next.once('exit', () => running.delete(next));
    await untilReady(next, port);
    child = next;
  };
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await run();
      break;
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start: run,
    stop: () => ended(child!, 'SIGTERM'),
    kill: () => ended(child!, 'SIGKILL'),
    freeze: () => void child!.kill('SIGSTOP'),
    thaw: () => void child!.kill('SIGCONT'),
  };
}
