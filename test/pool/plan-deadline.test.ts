/**
 * A plan's deadline holds whatever its workers do: tasks cut through their abort signal are
 * answered at once (the worker's reported greedy placement, or greedy on the calling thread), and
 * a worker held in its solver neither delays the plan nor makes the pool unready. The same holds
 * for a re-plan's second stage.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANALYTIC_COST_MODEL } from '../../src/cost/cost-model.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import {
  progressOutcome,
  solveLayerTask,
  type LayerOutcome,
  type LayerRunner,
  type LayerTask,
  type RunOptions,
  type TaskProgress,
} from '../../src/planner/layer-task.ts';
import { resolveMigration } from '../../src/planner/migration.ts';
import type { PlanLayer } from '../../src/planner/plan.ts';
import { solveReplan } from '../../src/planner/replan-plan.ts';
import { resolveRequest } from '../../src/planner/request.ts';
import { solvePlan } from '../../src/planner/solve-plan.ts';
import { createSolverPool, type SolverPool } from '../../src/pool/solver-pool.ts';
import { createEngines } from '../../src/solver/engines/index.ts';
import { greedyEngine } from '../../src/solver/engines/greedy.ts';
import { constraintViolation, relativeGap, statusForGap } from '../../src/solver/layer-result.ts';
import type { LayerProblem } from '../../src/solver/types.ts';
import { assertValidLayerResult } from '../solver/helpers.ts';
import { EXIT_LAYER } from './fixtures/faults.ts';
import { HARD_LAYER, LLAMA_LAYERS, taskFor } from './problems.ts';

const FAULTY_WORKER = new URL('./fixtures/faulty-worker.ts', import.meta.url);
/** Longer than any test here runs: only the signal, never a pool's own watchdog, ends a task. */
const HELD_MS = 600_000;
const context = { resolveProfile: () => undefined as never, resolveCostModel: () => ANALYTIC_COST_MODEL };

function assertGreedyAnswer(outcome: LayerOutcome, problem: LayerProblem, reason: RegExp): void {
  assert.equal(outcome.result.status, 'greedy_fallback');
  assert.match(outcome.result.fallbackReason ?? '', reason);
  assert.equal(constraintViolation(problem, outcome.result.unit2gpu), null);
  const greedy = greedyEngine.solveLayer(problem, { timeLimitMs: 1000, gapTolerance: 0 });
  assert.deepEqual(outcome.result.unit2gpu, greedy.unit2gpu);
  assert.equal(outcome.greedyMakespan, greedy.makespan);
  assert.ok(outcome.result.lowerBound <= outcome.result.makespan);
  assert.equal(outcome.result.gap, relativeGap(outcome.result.makespan, outcome.result.lowerBound));
}

test('a task reports greedy as its fallback before the engine starts; cut there, it is greedy_fallback', async () => {
  const glpk = await loadGlpk();
  const reports: TaskProgress[] = [];
  const task = taskFor(LLAMA_LAYERS[2], 'ilp');
  const solved = solveLayerTask(task, { glpk, engines: createEngines(glpk) }, (progress) => reports.push(progress));
  const greedy = greedyEngine.solveLayer(task.problem, { timeLimitMs: 1000, gapTolerance: 0 });
  assert.equal(reports[0].engine, 'greedy');
  assert.deepEqual(reports[0].unit2gpu, greedy.unit2gpu);
  assert.equal(reports[0].greedyMakespan, greedy.makespan);
  assert.equal(solved.result.engine, 'ilp');
  const cut = progressOutcome(task, reports[0], 3, 'the plan reached its deadline');
  assertGreedyAnswer(cut, task.problem, /the plan reached its deadline/);
  assert.equal(cut.result.lowerBound, reports[0].lowerBound);
});

test('a cut task is answered at once: running or queued, its worker keeps solving and is not replaced', async () => {
  const restarts: string[] = [];
  const pool = createSolverPool({ size: 1, graceMs: () => HELD_MS, onWorkerRestart: (r) => restarts.push(r) });
  try {
    await pool.ready();
    const running = new AbortController();
    const queued = new AbortController();
    const first = pool.run(taskFor(HARD_LAYER, 'ilp', HELD_MS), { signal: running.signal });
    const second = pool.run(taskFor(LLAMA_LAYERS[1], 'ilp', HELD_MS), { signal: queued.signal });
    assert.equal(pool.busy, 1);
    assert.equal(pool.queueDepth, 1);
    queued.abort();
    assert.equal(pool.queueDepth, 0, 'a cut task leaves the queue');
    assertGreedyAnswer(await second, LLAMA_LAYERS[1], /deadline while this layer waited for a solver worker/);
    running.abort();
    // The worker says when it begins a task; whether that message has arrived yet decides the wording.
    assertGreedyAnswer(
      await first,
      HARD_LAYER,
      /deadline while this layer (was still being solved|waited for a solver worker)/,
    );
    assert.equal(pool.busy, 1, 'the worker still solves the cut task; nobody waits for it');
    assert.deepEqual(restarts, []);
    assert.equal(pool.isReady(), true);
    const late = pool.run(taskFor(LLAMA_LAYERS[3], 'ilp'), { signal: AbortSignal.abort() });
    assert.equal(pool.queueDepth, 0, 'a task cut before it is run is never queued');
    assertGreedyAnswer(await late, LLAMA_LAYERS[3], /deadline before this layer was started/);
  } finally {
    await pool.close();
  }
});

test('the deadline timer cuts a plan whose worker hangs: every layer is answered with a valid greedy placement', async () => {
  // The fixture's contiguous engine never returns; the watchdog is far off, so only the plan's
  // own timer (due in 10 ms: the plan "arrived" 40 ms of its 50 ago) can answer.
  const pool = createSolverPool({ size: 1, workerFile: FAULTY_WORKER, graceMs: () => HELD_MS });
  try {
    await pool.ready();
    const costs = LLAMA_LAYERS.slice(0, 4).map((layer) => [...layer.costs]);
    const resolved = resolveRequest(
      { costs, gpus: { count: 8 }, solver: { engine: 'contiguous', timeLimitMs: 50, layerTimeLimitMs: 50 } },
      context,
    );
    // An injected clock that stands still at 40 ms after arrival: the cut is due 10 ms from now.
    const plan = await solvePlan(resolved, pool, { now: () => 40, startedAt: 0 });
    assert.equal(plan.layers.length, 4);
    plan.layers.forEach((layer, i) => assertValidLayerResult(resolved.layers[i], layer));
    assert.ok(plan.layers.some((l) => /before this layer was started/.test(l.fallbackReason ?? '')));
    for (const layer of plan.layers) {
      // The hung layer may have reported its engine's placement first: the status its gap earns.
      if (layer.status === 'greedy_fallback') assert.match(layer.fallbackReason!, /the plan reached its deadline/);
      else assert.equal(layer.status, statusForGap(layer.gap, 1e-4, 'time_limit'));
    }
    assert.ok(plan.totals.lowerBound <= plan.totals.makespan);
    assert.equal(pool.isReady(), true);
  } finally {
    await pool.close();
  }
});

test('a caller may end a plan early through its signal; later layers are never sent to a worker', async () => {
  const pool = createSolverPool({ size: 1, graceMs: () => HELD_MS });
  try {
    await pool.ready();
    const costs = [0, 1, 2].map((shift) => HARD_LAYER.costs.map((c) => c + shift));
    const resolved = resolveRequest(
      { costs, gpus: { count: 8 }, solver: { engine: 'ilp', timeLimitMs: HELD_MS, layerTimeLimitMs: HELD_MS } },
      context,
    );
    const stop = new AbortController();
    const planned = solvePlan(resolved, pool, { signal: stop.signal });
    assert.equal(pool.busy, 1, 'the first layer is on the worker');
    stop.abort();
    const plan = await planned;
    plan.layers.forEach((layer, i) => {
      assertValidLayerResult(resolved.layers[i], layer);
      assert.equal(layer.status, 'greedy_fallback');
    });
    assert.equal(pool.queueDepth, 0);
  } finally {
    await pool.close();
  }
});

test('a plan already past its deadline when it starts sends no layer to a worker', async () => {
  const pool = createSolverPool({ size: 1, graceMs: () => HELD_MS });
  try {
    await pool.ready();
    const costs = [0, 1].map((shift) => HARD_LAYER.costs.map((c) => c + shift));
    const resolved = resolveRequest({ costs, gpus: { count: 8 }, solver: { engine: 'ilp', timeLimitMs: 50 } }, context);
    // The injected clock already reads arrival + the 50 ms limit.
    const planned = solvePlan(resolved, pool, { now: () => 50, startedAt: 0 });
    assert.equal(pool.busy, 0);
    const plan = await planned;
    for (const layer of plan.layers) assert.match(layer.fallbackReason ?? '', /before this layer was started/);
  } finally {
    await pool.close();
  }
});

test('a worker replaced by a cold one (no spare): the pool stays ready throughout', async () => {
  const readiness: boolean[] = [];
  const pool = createSolverPool({
    size: 1,
    spares: 0,
    workerFile: FAULTY_WORKER,
    // Called right after the slot is handed to a worker that is still loading GLPK.
    onWorkerRestart: () => readiness.push(pool.isReady()),
  });
  try {
    await pool.ready();
    const problem = { ...LLAMA_LAYERS[4], layer: EXIT_LAYER };
    const outcome = await pool.run(taskFor(problem, 'auto'));
    assert.equal(outcome.result.status, 'greedy_fallback');
    assert.deepEqual(readiness, [true]);
    assert.equal(pool.isReady(), true);
  } finally {
    await pool.close();
  }
});

/**
 * The real pool behind a gate for re-plans' stage 2: a migration task waits until its plan's
 * signal aborts, then goes to the pool (which answers a cut task with greedy, never its worker).
 */
function holdMigrations(pool: SolverPool): LayerRunner & { held: number } {
  const runner = {
    held: 0,
    concurrency: pool.concurrency,
    run: async (task: LayerTask, options?: RunOptions) => {
      if (task.migration) {
        runner.held += 1;
        const signal = options?.signal;
        if (!signal) throw new Error('a re-plan sends its stage 2 with its deadline signal');
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      }
      return pool.run(task, options);
    },
  };
  return runner;
}

function replanOf(timeLimitMs: number) {
  const costs = LLAMA_LAYERS.slice(0, 3).map((layer) => [...layer.costs]);
  const request = { costs, gpus: { count: 8 }, solver: { engine: 'ilp' as const, timeLimitMs } };
  const resolved = resolveRequest(request, context);
  const previous = costs.map((row) => row.map((_, u) => (u * 3) % 8));
  return { resolved, migration: resolveMigration({ ...request, previous: { unit2gpu: previous } }, resolved, context) };
}

/** A cut layer's stage 2 is the heuristic re-plan, which says why unless it proved its answer. */
function assertCutReplan(layer: PlanLayer, reason = /the plan reached its deadline/): void {
  const m = layer.migration!;
  if (m.moveStatus === 'optimal') assert.equal(m.movedUnits, 0, 'only keeping the previous placement is proven');
  else {
    assert.equal(m.moveStatus, 'heuristic');
    assert.match(m.moveFallbackReason ?? '', reason);
  }
}

test("the deadline timer cuts a re-plan's held stage 2: every layer gets the heuristic re-plan", async () => {
  const pool = createSolverPool({ size: 1, graceMs: () => HELD_MS });
  try {
    await pool.ready();
    const runner = holdMigrations(pool);
    const { resolved, migration } = replanOf(200);
    // The injected clock stands at 150 ms of 200: stage 1 (half the time) is already due, the cut in 50 ms.
    const plan = await solveReplan(resolved, migration, runner, { now: () => 150, startedAt: 0 });
    assert.ok(runner.held >= 1, 'stage 2 reached its gate');
    plan.layers.forEach((layer, l) => {
      assertValidLayerResult(resolved.layers[l], layer);
      assertCutReplan(layer);
    });
    assert.ok(
      plan.layers.some((l) => /before this layer was re-planned/.test(l.migration!.moveFallbackReason ?? '')),
      'layers after the cut never reach the runner',
    );
    assert.equal(pool.busy, 0);
    assert.equal(pool.queueDepth, 0);
  } finally {
    await pool.close();
  }
});

test('a re-plan already past its deadline sends no layer to a worker', async () => {
  const pool = createSolverPool({ size: 1, graceMs: () => HELD_MS });
  try {
    await pool.ready();
    const runner = holdMigrations(pool);
    const { resolved, migration } = replanOf(200);
    const plan = await solveReplan(resolved, migration, runner, { now: () => 200, startedAt: 0 });
    assert.equal(runner.held, 0);
    assert.equal(pool.busy, 0);
    plan.layers.forEach((layer, l) => {
      assertValidLayerResult(resolved.layers[l], layer);
      // Stage 1 was greedy; a layer its bound proves says so, any other keeps greedy's reason.
      if (layer.status === 'greedy_fallback') assert.match(layer.fallbackReason ?? '', /before this layer was started/);
      assertCutReplan(layer, /before this layer was re-planned/);
    });
  } finally {
    await pool.close();
  }
});
