import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HplbError } from '../../src/errors.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner, type LayerOutcome, type LayerRunner } from '../../src/planner/layer-task.ts';
import { createSolverPool, defaultGraceMs, type SolverPool } from '../../src/pool/solver-pool.ts';
import { greedyEngine } from '../../src/solver/engines/greedy.ts';
import { constraintViolation, makespanOf, statusForGap } from '../../src/solver/layer-result.ts';
import type { LayerProblem } from '../../src/solver/types.ts';
import { rebalancePairs } from '../../src/solver/engines/pair-rebalance.ts';
import { EXIT_CODE, EXIT_LAYER, HANG_LAYER, SEARCH_BUG, STUCK_ENGINE, THROW_LAYER } from './fixtures/faults.ts';
import { HARD_LAYER, LLAMA_LAYERS, taskFor } from './problems.ts';

const FAULTY_WORKER = new URL('./fixtures/faulty-worker.ts', import.meta.url);
const BROKEN_WORKER = new URL('./fixtures/broken-worker.ts', import.meta.url);

/** Everything but the timing, which differs between any two runs. */
function withoutTiming(outcome: LayerOutcome): unknown {
  const { solveMs: _solveMs, ...result } = outcome.result;
  return { ...outcome, result };
}

function assertGreedyFallback(outcome: LayerOutcome, problem: LayerProblem, reason: RegExp): void {
  assert.equal(outcome.result.status, 'greedy_fallback');
  assert.match(outcome.result.fallbackReason ?? '', reason);
  assert.equal(constraintViolation(problem, outcome.result.unit2gpu), null);
  const greedy = greedyEngine.solveLayer(problem, { timeLimitMs: 1000, gapTolerance: 0 });
  assert.deepEqual(outcome.result.unit2gpu, greedy.unit2gpu);
  assert.equal(outcome.greedyMakespan, greedy.makespan);
}

/** Proven within the gap tolerance (every real layer here is, in well under the time limit). */
function assertSolved(outcome: LayerOutcome, engine?: string): void {
  assert.ok(['optimal', 'within_tolerance'].includes(outcome.result.status), `status ${outcome.result.status}`);
  if (engine) assert.equal(outcome.result.engine, engine);
}

test('default grace is 10% of the time limit plus 50 ms', () => {
  assert.equal(defaultGraceMs(1000), 150);
  assert.equal(defaultGraceMs(0), 50);
});

test('a pool size that is not a positive integer is refused', () => {
  assert.throws(
    () => createSolverPool({ size: 0 }),
    (e: unknown) => e instanceof HplbError && e.code === 'INTERNAL',
  );
});

describe('a pool of two real workers', () => {
  let pool: SolverPool;
  let inline: LayerRunner;
  const restarts: string[] = [];
  before(async () => {
    inline = createInlineRunner(await loadGlpk());
    // A generous grace: these tests are about answers, not overruns (tested below with no grace),
    // and a busy 2-core machine can stretch a 2 s solve past the default grace.
    pool = createSolverPool({ size: 2, graceMs: () => 60_000, onWorkerRestart: (reason) => restarts.push(reason) });
  });
  after(() => pool.close());

  test('takes tasks run before the workers are ready, then answers them', async () => {
    assert.equal(pool.concurrency, 2);
    assert.equal(pool.isReady(), false);
    const pending = [pool.run(taskFor(LLAMA_LAYERS[0], 'auto')), pool.run(taskFor(LLAMA_LAYERS[1], 'greedy'))];
    assert.equal(pool.busy, 2);
    await pool.ready();
    assert.equal(pool.isReady(), true);
    const outcomes = await Promise.all(pending);
    assert.deepEqual(
      outcomes.map((o) => o.result.layer),
      [0, 1],
    );
  });

  test('answers exactly what solving inline answers, on real layers and every engine', async () => {
    const tasks = [0, 10, 20].flatMap((l) =>
      (['auto', 'ilp', 'search', 'greedy', 'contiguous'] as const).map((engine) => taskFor(LLAMA_LAYERS[l], engine)),
    );
    const fromPool = await Promise.all(tasks.map((task) => pool.run(task)));
    for (const [i, task] of tasks.entries()) {
      const expected = await inline.run(task);
      assert.deepEqual(
        withoutTiming(fromPool[i]),
        withoutTiming(expected),
        `layer ${task.problem.layer}, engine ${task.engine}`,
      );
    }
  });

  test('runs many concurrent tasks two at a time and answers them all', async () => {
    const tasks = LLAMA_LAYERS.slice(0, 16).map((problem) => taskFor(problem, 'auto'));
    const pending = tasks.map((task) => pool.run(task));
    assert.equal(pool.busy, 2);
    assert.equal(pool.queueDepth, 14);
    const outcomes = await Promise.all(pending);
    assert.deepEqual(
      outcomes.map((o) => o.result.layer),
      tasks.map((t) => t.problem.layer),
    );
    for (const o of outcomes) assertSolved(o);
    assert.equal(pool.busy, 0);
    assert.equal(pool.queueDepth, 0);
  });

  test('rethrows an error in the problem as the same HplbError, and keeps its workers', async () => {
    await assert.rejects(pool.run(taskFor(LLAMA_LAYERS[0], 'simplex' as never)), (e: unknown) => {
      assert.ok(e instanceof HplbError);
      assert.deepEqual(
        [e.code, e.message, e.pointer, e.rule],
        ['INVALID_PROBLEM', 'unknown engine "simplex"', '/solver/engine', 'enum'],
      );
      return true;
    });
    // Contiguous placement puts unit 0 on GPU 0; the pin forbids it.
    const pinned: LayerProblem = {
      ...LLAMA_LAYERS[0],
      unit2pin: LLAMA_LAYERS[0].costs.map((_, u) => (u === 0 ? 1 : -1)),
    };
    await assert.rejects(
      pool.run(taskFor(pinned, 'contiguous')),
      (e: unknown) => e instanceof HplbError && e.code === 'INFEASIBLE_CONSTRAINTS' && e.rule === 'feasible',
    );
    assertSolved(await pool.run(taskFor(LLAMA_LAYERS[2], 'search')), 'search');
    assert.deepEqual(restarts, []);
  });
});

test('a worker past its deadline is replaced, its task answered by greedy, and the pool keeps serving', async () => {
  const restarts: string[] = [];
  const pool = createSolverPool({
    size: 1,
    graceMs: () => 0,
    workerFile: FAULTY_WORKER,
    onWorkerRestart: (reason) => restarts.push(reason),
  });
  try {
    await pool.ready();
    // The fixture spins on this layer without reporting progress. The limit is long enough for an
    // idle worker to begin the task on a loaded machine: a task still waiting at its deadline is skipped.
    const hanging = { ...HARD_LAYER, layer: HANG_LAYER };
    const outcome = await pool.run(taskFor(hanging, 'ilp', 1000));
    // Answered at its deadline; the worker, stuck past its own slice, is then replaced.
    assertGreedyFallback(outcome, hanging, /deadline of 1000 ms \(time limit 1000 ms \+ grace 0 ms\)/);
    await until(() => restarts.length === 1);
    assert.match(restarts[0], /overran its deadline/);
    // Without a spare, the replacement must load GLPK first, and a task's deadline counts from when
    // it is queued: on a busy machine that took longer than a 2 s limit, so wait for it to be ready.
    await pool.ready();
    assertSolved(await pool.run(taskFor(LLAMA_LAYERS[3], 'ilp')), 'ilp');
  } finally {
    await pool.close();
  }
});

test('a worker stopped past its deadline after reporting progress: its task keeps that placement, not greedy', async () => {
  const pool = createSolverPool({ size: 1, workerFile: FAULTY_WORKER, graceMs: () => 0 });
  try {
    await pool.ready();
    // The report comes after greedy and one local search, tens of ms, far inside the 1 s limit.
    const outcome = await pool.run(taskFor(HARD_LAYER, 'contiguous', 1000));
    const greedy = greedyEngine.solveLayer(HARD_LAYER, { timeLimitMs: 1000, gapTolerance: 0 });
    const reported = rebalancePairs(HARD_LAYER, greedy.unit2gpu);
    assert.ok(makespanOf(HARD_LAYER, reported) < greedy.makespan, 'the reported placement beats greedy');
    assert.deepEqual(outcome.result.unit2gpu, reported);
    assert.equal(outcome.result.engine, STUCK_ENGINE);
    assert.equal(outcome.result.status, statusForGap(outcome.result.gap, 1e-4, 'time_limit'));
    assert.equal(outcome.result.fallbackReason, undefined);
    assert.equal(outcome.greedyMakespan, greedy.makespan);
  } finally {
    await pool.close();
  }
});

/** Resolves once `condition` holds, checking after each turn of the event loop (no clock involved). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

test('a warm spare takes over at once from a worker that overran: the pool stays ready and answers the next task', async () => {
  const restarts: string[] = [];
  const pool = createSolverPool({
    size: 1,
    spares: 1,
    graceMs: () => 0,
    workerFile: FAULTY_WORKER,
    onWorkerRestart: (reason) => restarts.push(reason),
  });
  try {
    await pool.ready();
    // The fixture spins on this layer: its worker overruns whatever the machine's load.
    const outcome = await pool.run(taskFor({ ...HARD_LAYER, layer: HANG_LAYER }, 'ilp', 1000));
    assert.equal(constraintViolation(HARD_LAYER, outcome.result.unit2gpu), null);
    await until(() => restarts.length === 1);
    assert.equal(pool.isReady(), true, 'the spare took the slot: no moment without a ready worker');
    assert.match(restarts[0], /overran its deadline/);
    assertSolved(await pool.run(taskFor(LLAMA_LAYERS[3], 'ilp')), 'ilp');
  } finally {
    await pool.close();
  }
});

test('a task still queued at its deadline is answered by greedy without waiting for a worker', async () => {
  const pool = createSolverPool({ size: 1, graceMs: () => 0 });
  try {
    await pool.ready();
    // Holds the only worker far longer than the queued task's deadline; close() ends it.
    const blocking = pool.run(taskFor(HARD_LAYER, 'ilp', 60_000));
    const queued = await pool.run(taskFor(LLAMA_LAYERS[9], 'auto', 1));
    assertGreedyFallback(queued, LLAMA_LAYERS[9], /waited for a solver worker past its deadline of 1 ms/);
    assert.equal(pool.busy, 1);
    void blocking.catch(() => undefined);
  } finally {
    await pool.close();
  }
});

describe('a pool on a faulty worker', () => {
  let pool: SolverPool;
  const restarts: string[] = [];
  before(() => {
    pool = createSolverPool({ size: 1, workerFile: FAULTY_WORKER, onWorkerRestart: (reason) => restarts.push(reason) });
    return pool.ready();
  });
  after(() => pool.close());

  const cases = [
    {
      name: 'a worker that exits',
      layer: EXIT_LAYER,
      reason: new RegExp(`solver worker failed: worker exited with code: ${EXIT_CODE}`),
    },
    {
      name: 'a worker that throws outside any handler',
      layer: THROW_LAYER,
      reason: /solver worker failed: fixture worker fault/,
    },
  ];
  for (const { name, layer, reason } of cases) {
    test(`${name}: greedy answers its task, the worker is replaced, the next task is solved`, async () => {
      restarts.length = 0;
      const problem = { ...LLAMA_LAYERS[4], layer };
      assertGreedyFallback(await pool.run(taskFor(problem, 'auto')), problem, reason);
      assert.equal(restarts.length, 1);
      assert.match(restarts[0], reason);
      assertSolved(await pool.run(taskFor(LLAMA_LAYERS[5], 'ilp')), 'ilp');
    });
  }

  test('a solver that throws: greedy answers, and the worker stays', async () => {
    restarts.length = 0;
    const outcome = await pool.run(taskFor(LLAMA_LAYERS[6], 'search'));
    assertGreedyFallback(outcome, LLAMA_LAYERS[6], new RegExp(`solver worker threw: RangeError: ${SEARCH_BUG}`));
    assert.deepEqual(restarts, []);
  });

  test('when greedy cannot place the task either, its HplbError rejects the run', async () => {
    // 4 units, 2 GPUs, exactly 3 on each: nothing fits.
    const impossible: LayerProblem = {
      layer: EXIT_LAYER,
      costs: [4, 3, 2, 1],
      speeds: [1, 1],
      minUnitsPerGpu: 3,
      maxUnitsPerGpu: 3,
    };
    await assert.rejects(
      pool.run(taskFor(impossible, 'auto')),
      (e: unknown) => e instanceof HplbError && e.code === 'INFEASIBLE_CONSTRAINTS',
    );
  });
});

test('a worker that cannot start: ready() rejects, and greedy answers tasks', async () => {
  const pool = createSolverPool({ size: 1, workerFile: BROKEN_WORKER });
  try {
    // A deadline far beyond the failed start: the start failure is what answers it.
    const queued = pool.run(taskFor(LLAMA_LAYERS[7], 'auto', 600_000));
    await assert.rejects(
      pool.ready(),
      (e: unknown) => e instanceof HplbError && e.code === 'INTERNAL' && /failed to start/.test(e.message),
    );
    assertGreedyFallback(await queued, LLAMA_LAYERS[7], /broken worker fixture/);
    assertGreedyFallback(await pool.run(taskFor(LLAMA_LAYERS[8], 'auto')), LLAMA_LAYERS[8], /failed to start/);
    assert.equal(pool.isReady(), false);
  } finally {
    await pool.close();
  }
});

test('close() rejects running, queued and later tasks with DRAINING', async (t) => {
  const pool = createSolverPool({ size: 1 });
  t.after(() => pool.close());
  await pool.ready();
  const isDraining = (e: unknown) => e instanceof HplbError && e.code === 'DRAINING';
  // Started at once on the idle worker, whose answer cannot arrive before close() below.
  const running = pool.run(taskFor(HARD_LAYER, 'ilp', 60_000));
  const queued = pool.run(taskFor(LLAMA_LAYERS[0], 'greedy'));
  assert.equal(pool.busy, 1);
  assert.equal(pool.queueDepth, 1);
  const closed = pool.close();
  await assert.rejects(running, isDraining);
  await assert.rejects(queued, isDraining);
  await closed;
  await assert.rejects(pool.run(taskFor(LLAMA_LAYERS[0], 'greedy')), isDraining);
  await assert.rejects(pool.ready(), isDraining);
  assert.equal(pool.isReady(), false);
});
