/**
 * Over HTTP, a plan whose worker hangs in its solver is answered at its time limit with honest
 * greedy layers, the hung worker is replaced from the warm spare in the background, and /readyz
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
import { relativeGap } from '../../src/solver/layer-result.ts';
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
      onWorkerRestart: (reason) => {
        restarts.push(reason);
        readyAtRestart.push(pool.isReady());
        hplb.workerRestarted(reason);
      },
    });
    await pool.ready();
    await until(() => pool.sparesReady === 1);
    const config = loadConfig({ RATE_LIMIT_MAX: '0' });
    const logger = pino({ level: 'silent' });
    hplb = buildApp({ config, runner: pool, registry: loadRegistry(), logger, resolveCostModel, publicDir: null });
  });
  after(() => pool.close());

  it('is answered at its deadline with greedy layers and a valid bound; the spare takes over; /readyz stays 200', async () => {
    // The plan's cut (1 ms after arrival) comes before the watchdog's (the first layer's 5 ms slice
    // + grace after it starts): timers fire in the order they fall due.
    const costs = LLAMA_LAYERS.slice(0, 3).map((layer) => [...layer.costs]);
    const res = await request(hplb.app)
      .post('/v1/plans')
      .send({ costs, gpus: { count: 8 }, solver: { engine: 'contiguous', timeLimitMs: 1 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertSchema('Plan', res.body);
    const layers = res.body.layers as PlanLayer[];
    assert.ok(
      layers.some((l) => /the plan reached its deadline before this layer was started/.test(l.fallbackReason ?? '')),
    );
    for (const layer of layers) {
      assert.ok(['greedy_fallback', 'time_limit'].includes(layer.status), layer.status);
      assert.ok(layer.lowerBound <= layer.makespan);
      assert.equal(layer.gap, relativeGap(layer.makespan, layer.lowerBound));
    }
    assert.equal((await request(hplb.app).get('/readyz')).status, 200, 'a worker stuck in its solver is not unready');

    // The watchdog replaces the hung worker from the spare; a new spare starts behind it.
    await until(() => restarts.length === 1);
    assert.match(restarts[0], /overran its deadline/);
    assert.deepEqual(readyAtRestart, [true]);
    assert.equal((await request(hplb.app).get('/readyz')).status, 200);
    const next = await request(hplb.app)
      .post('/v1/plans')
      .send({ costs: [[...LLAMA_LAYERS[7].costs]], gpus: { count: 8 }, solver: { engine: 'greedy' } });
    assert.equal(next.status, 201);
    assert.notEqual(next.body.layers[0].status, 'greedy_fallback', 'the spare solved it');
  });
});
