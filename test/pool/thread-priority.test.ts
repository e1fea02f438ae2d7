/**
 * Worker threads below the event loop's priority (src/pool/thread-priority.ts): the solver pool's
 * workers and spares, and the body pool's, each lower their own nice value; the main thread
 * keeps its own. Read from /proc, where Linux keeps a nice value per thread.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createBodyPool, requestLimitsOf } from '../../src/http/body-pool.ts';
import { loadConfig } from '../../src/config.ts';
import { createSolverPool } from '../../src/pool/solver-pool.ts';

/** Nice values of this process's threads, by thread id. */
function niceByThread(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    // Field 19 of stat; fields after the command name in parentheses start at field 3.
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    nice.set(Number(tid), Number(fields[16]));
  }
  return nice;
}

const count = (values: Iterable<number>, nice: number): number => [...values].filter((n) => n === nice).length;

test('solver and body workers run at the configured nice value; the event loop keeps its own', {
  skip: process.platform !== 'linux' && 'per-thread nice values are a Linux feature',
}, async () => {
  const before = count(niceByThread().values(), 7);
  const solver = createSolverPool({ size: 1, spares: 0, threadNice: 7 });
  const config = loadConfig({});
  const bodies = createBodyPool({
    size: 1,
    maxQueued: 1,
    timeLimitMs: 5000,
    data: { limits: requestLimitsOf(config), maxBodyContainers: config.maxBodyContainers, nice: 7 },
  });
  try {
    await Promise.all([solver.ready(), bodies.ready()]);
    // Each worker lowers its priority before it says it is ready.
    const threads = niceByThread();
    assert.equal(threads.get(process.pid), 0, 'the main thread keeps its priority');
    assert.equal(count(threads.values(), 7) - before, 2, 'the solver worker and the body worker lowered theirs');
  } finally {
    await Promise.all([solver.close(), bodies.close()]);
  }
});
