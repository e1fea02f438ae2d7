import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANALYTIC_COST_MODEL } from '../../src/cost/cost-model.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner, greedyFallback, type LayerRunner } from '../../src/planner/layer-task.ts';
import { resolveMigration, unitBytes, type MigrationOptions } from '../../src/planner/migration.ts';
import { solveReplan } from '../../src/planner/replan-plan.ts';
import { resolveRequest, type PlanRequest } from '../../src/planner/request.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { createEngines } from '../../src/solver/engines/index.ts';
import { assertValidLayerResult } from '../solver/helpers.ts';

const registry = loadRegistry();
const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel: () => ANALYTIC_COST_MODEL };
const glpk = await loadGlpk();
const engines = createEngines(glpk);
const inline = createInlineRunner(glpk, engines);

const COSTS = [
  [9, 9, 7, 5, 5, 3, 2, 2],
  [8, 6, 6, 6, 4, 4, 2, 1],
  [12, 3, 3, 3, 3, 3, 3, 1],
];

async function replan(
  request: PlanRequest,
  previous: number[][],
  migration: MigrationOptions = {},
  runner: LayerRunner = inline,
) {
  const resolved = resolveRequest(request, context);
  const resolvedMigration = resolveMigration(
    { ...request, previous: { unit2gpu: previous }, migration },
    resolved,
    context,
  );
  return { resolved, plan: await solveReplan(resolved, resolvedMigration, runner) };
}

describe('solveReplan', () => {
  it('holds every constraint, and its moves and totals agree with the placements', async () => {
    const previous = COSTS.map((row) => row.map((_, u) => u % 4));
    const { resolved, plan } = await replan({ costs: COSTS, gpus: { count: 4 } }, previous, { makespanTolerance: 0 });
    plan.layers.forEach((layer, l) => {
      assertValidLayerResult(resolved.layers[l], layer);
      const m = layer.migration!;
      assert.equal(m.movedUnits, layer.unit2gpu.filter((g, u) => g !== previous[l][u]).length);
      assert.ok(layer.makespan <= m.optimalMakespan * (1 + 1e-9), 'eps 0: the optimal makespan');
    });
    assert.equal(
      plan.migration!.totals.movedUnits,
      plan.layers.reduce((s, l) => s + l.migration!.movedUnits, 0),
    );
    assert.equal(plan.migration!.moveCostUnit, 'units');
  });

  it('minImprovement keeps every layer whose gain is smaller, with keep: true and no moves', async () => {
    const previous = COSTS.map((row) => row.map((_, u) => Math.floor(u / 2)));
    const { plan } = await replan({ costs: COSTS, gpus: { count: 4 } }, previous, { minImprovement: 0.99 });
    for (const layer of plan.layers) {
      assert.equal(layer.migration!.keep, true);
      assert.deepEqual(layer.unit2gpu, previous[layer.layer]);
      assert.equal(layer.migration!.moves.length, 0);
    }
    assert.equal(plan.migration!.totals.layersKept, COSTS.length);
  });

  it('a drained GPU (a label beyond the new GPU count) sends all its units away', async () => {
    const previous = COSTS.map((row) => row.map((_, u) => u % 4));
    const { plan } = await replan(
      { costs: COSTS, gpus: { count: 3 }, constraints: { unitsPerGpu: 'max:3' } },
      previous,
    );
    for (const layer of plan.layers) {
      assert.ok(layer.unit2gpu.every((g) => g < 3));
      const fromDrained = layer.migration!.moves.filter((m) => m.from === 3).length;
      assert.equal(fromDrained, 2, 'both units of GPU 3 move');
      assert.equal(layer.migration!.previousMakespan, null);
    }
  });

  it('when a worker cannot answer, the layer is re-planned by relabelling and swaps, marked heuristic', async () => {
    const failing: LayerRunner = {
      concurrency: 1,
      run: async (task) => (task.migration ? greedyFallback(task, 'worker crashed') : inline.run(task)),
    };
    const previous = COSTS.map((row) => row.map((_, u) => (u + 1) % 4));
    const { resolved, plan } = await replan({ costs: COSTS, gpus: { count: 4 } }, previous, {}, failing);
    plan.layers.forEach((layer, l) => {
      assertValidLayerResult(resolved.layers[l], layer);
      if (layer.migration!.moveEngine !== 'previous') assert.equal(layer.migration!.moveStatus, 'heuristic');
      assert.ok(layer.makespan <= layer.migration!.targetMakespan * (1 + 1e-9));
    });
  });

  it('the default move cost of a profile is its bytes: weights and the KV cache at the workload', async () => {
    const profile = registry.resolve('llama-3-8b-instruct-262k-minference');
    const at = (seqLen: number, granularity: 'query-head' | 'kv-group') =>
      unitBytes(profile.architecture, { granularity, kvSeqLen: seqLen });
    // 32 query heads of 128 dims, 8 KV heads: q/o slices 2 x 4096 x 128, k/v slices the same,
    // KV cache 2 x seqLen x 128, two bytes each.
    assert.equal(at(1024, 'query-head'), (2 * 4096 * 128 + 2 * 4096 * 128 + 2 * 1024 * 128) * 2);
    assert.equal(at(1024, 'kv-group'), (4 * 2 * 4096 * 128 + 2 * 4096 * 128 + 2 * 1024 * 128) * 2);
    assert.ok(at(131072, 'query-head') > at(32768, 'query-head'));
  });
});
