/**
 * Over HTTP, a plan whose worker hangs in its solver is answered at its time limit with honest
 * greedy layers, the hung worker is replaced (from the warm spare) in the background, and /readyz
 * stays 200 all along.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config.ts';
import { resolveCostModel } from '../../src/cost/registry.ts';
import { buildApp, type HplbApp } from '../../src/http/app.ts';
import { createSolverPool, type SolverPool } from '../../src/pool/solver-pool.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { relativeGap, statusForGap } from '../../src/solver/layer-result.ts';
import type { PlanLayer } from '../../src/planner/plan.ts';
import { LLAMA_LAYERS } from '../pool/problems.ts';
import { assertSchema } from './helpers.ts';

/** The pool test's worker: its contiguous engine reports a placement, then never returns. */
const FAULTY_WORKER = new URL('../pool/fixtures/faulty-worker.ts', import.meta.url);

/** Resolves once `condition` holds, checking after each turn of the event loop (no clock involved). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('a plan whose worker hangs', () => {
  let pool: SolverPool;
  let hplb: HplbApp;
  const restarts: string[] = [];
  const readyAtRestart: boolean[] = [];
  before(async () => {
    pool = createSolverPool({
      size: 1,
      spares: 1,
      workerFile: FAULTY_WORKER,
      graceMs: () => 200,
      onWorkerRestart: (reason) => {
        restarts.push(reason);
        readyAtRestart.push(pool.isReady());
        hplb.workerRestarted(reason);
      },
    });
    await pool.ready();
    const config = loadConfig({ RATE_LIMIT_MAX: '0' });
    const logger = pino({ level: 'silent' });
    hplb = buildApp({ config, runner: pool, registry: loadRegistry(), logger, resolveCostModel, publicDir: null });
  });
  after(() => pool.close());

  it('is answered at its deadline with greedy layers and a valid bound; /readyz stays 200', async () => {
    // The plan's cut (20 ms after arrival) comes before the watchdog's (200 ms after the first
    // layer started): the hung layer is cut, the others are never sent.
    const costs = LLAMA_LAYERS.slice(0, 3).map((layer) => [...layer.costs]);
    const res = await request(hplb.app)
      .post('/v1/plans')
      .send({ costs, gpus: { count: 8 }, solver: { engine: 'contiguous', timeLimitMs: 20 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertSchema('Plan', res.body);
    const layers = res.body.layers as PlanLayer[];
    assert.ok(
      layers.some((l) => /the plan reached its deadline before this layer was started/.test(l.fallbackReason ?? '')),
    );
    for (const layer of layers) {
      // The hung layer may have reported its engine's placement first: the status its gap earns.
      if (layer.status !== 'greedy_fallback') assert.equal(layer.status, statusForGap(layer.gap, 1e-4, 'time_limit'));
      assert.ok(layer.lowerBound <= layer.makespan);
      assert.equal(layer.gap, relativeGap(layer.makespan, layer.lowerBound));
    }
    assert.equal((await request(hplb.app).get('/readyz')).status, 200, 'a worker stuck in its solver is not unready');
  });

  it('the watchdog replaces a hung worker; /readyz stays 200 at and after each replacement', async () => {
    const hung = await pool.run({ problem: LLAMA_LAYERS[8], engine: 'contiguous', timeLimitMs: 1, gapTolerance: 1e-4 });
    assert.ok(hung.result.lowerBound <= hung.result.makespan);
    await until(() => restarts.length >= 1);
    assert.ok(restarts.every((r) => /overran its deadline/.test(r)));
    assert.ok(
      readyAtRestart.every((ready) => ready),
      'ready at every replacement',
    );
    assert.equal((await request(hplb.app).get('/readyz')).status, 200);
  });
});
