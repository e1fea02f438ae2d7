import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { slowRequest } from './helpers.ts';

const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url));

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  readonly logs: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
  /** Resolves once a log line with this message has been written. */
  logged(msg: string): Promise<void>;
}

/** Children started here, killed after the suite whatever happened (a failed test must not leave one running). */
const children: ChildProcess[] = [];

/** npm start's entry point in a child process on a free port, once it is ready (/readyz 200). */
async function startServer(): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      SOLVER_WORKERS: '1',
      LOG_LEVEL: 'info',
      DRAIN_TIMEOUT_MS: '20000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const logs: Record<string, unknown>[] = [];
  const lines = new EventEmitter();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let port = 0;
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      lines.emit('line', entry);
      if (entry.msg === 'listening') port = entry.port as number;
      // /readyz is 200 once it listens and both kinds of worker have started.
      if (entry.msg === 'ready') resolve();
    });
    void exited.then((code) => reject(new Error(`server exited early with ${code}`)));
  });
  const logged = (msg: string): Promise<void> =>
    new Promise((resolve) => {
      if (logs.some((l) => l.msg === msg)) return resolve();
      const listener = (entry: Record<string, unknown>): void => {
        if (entry.msg !== msg) return;
        lines.off('line', listener);
        resolve();
      };
      lines.on('line', listener);
    });
  return { child, url: `http://127.0.0.1:${port}`, logs, exited, logged };
}

describe('npm start (src/server.ts)', () => {
  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('drains on SIGTERM: the in-flight solve finishes, new connections are refused, exit 0', async () => {
    const server = await startServer();
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const inFlight = fetch(`${server.url}/v1/plans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(slowRequest(2000)),
    });
    // Poll (each poll is a round trip, no sleeps) until the plan holds a slot.
    let holding = false;
    while (!holding) holding = /^hplb_plans_in_flight 1$/m.test(await (await fetch(`${server.url}/metrics`)).text());
    server.child.kill('SIGTERM');
    // The listener is closed in the same turn as the 'draining' line is written.
    await server.logged('draining');
    await assert.rejects(fetch(`${server.url}/livez`));

    const res = await inFlight;
    assert.equal(res.status, 201);
    const plan = (await res.json()) as { layers: unknown[] };
    assert.equal(plan.layers.length, 1);
    assert.equal(await server.exited, 0);
    const messages = server.logs.map((l) => l.msg);
    assert.ok(messages.indexOf('draining') < messages.indexOf('stopped'));
    const solved = server.logs.findIndex((l) => l.msg === 'request' && l.method === 'POST');
    assert.ok(messages.indexOf('draining') < solved, 'the solve was still in flight when the drain began');
  });

  it('exits 0 at once on SIGINT when idle', async () => {
    const server = await startServer();
    server.child.kill('SIGINT');
    assert.equal(await server.exited, 0);
  });
});
