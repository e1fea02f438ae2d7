import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createExecutedWorkCostModel } from '../../src/cost/cost-model.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner, type LayerRunner, type LayerTask } from '../../src/planner/layer-task.ts';
import { resolveRequest, type PlanRequest } from '../../src/planner/request.ts';
import { solvePlan } from '../../src/planner/solve-plan.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { createEngines } from '../../src/solver/engines/index.ts';
import { distinctCosts, logNormalCosts } from '../../src/kernel/synthetic.ts';
import { assertValidLayerResult } from '../solver/helpers.ts';
import { makespanOf } from '../../src/solver/layer-result.ts';

const registry = loadRegistry();
const costModel = createExecutedWorkCostModel();
const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel: () => costModel };
const glpk = await loadGlpk();
const engines = createEngines(glpk);

/** The real inline runner, counting the tasks it is given. */
function countingRunner(): LayerRunner & { tasks: LayerTask[] } {
  const inner = createInlineRunner(glpk, engines);
  const tasks: LayerTask[] = [];
  return {
    concurrency: 1,
    tasks,
    run: (task) => {
      tasks.push(task);
      return inner.run(task);
    },
  };
}

describe('solvePlan', () => {
  it('plans the flagship on 4 GPUs at the default KV cap: groups whole, every layer proven, faster than contiguous', async () => {
    const resolved = resolveRequest({ model: 'llama-3-8b-instruct-262k-minference', gpus: { count: 4 } }, context);
    const plan = await solvePlan(resolved, createInlineRunner(glpk, engines));
    assert.equal(plan.layers.length, 32);
    plan.layers.forEach((layer, i) => assertValidLayerResult(resolved.layers[i], layer));
    assert.equal(plan.totals.layersProvenOptimal, 32);
    assert.equal(plan.maxKvCacheFactor, 1);
    assert.equal(plan.totals.kvCacheFactor, 1, 'no more KV heads than contiguous: 2 whole groups per GPU');
    for (const layer of plan.layers) assert.deepEqual(layer.kvHeadsPerGpu, [2, 2, 2, 2]);
    assert.ok(
      plan.totals.speedupVsContiguous! > 1.05 && plan.totals.speedupVsContiguous! < 1.2,
      `speedup ${plan.totals.speedupVsContiguous}`,
    );
    assert.ok(plan.totals.makespan <= plan.totals.greedyMakespan!);
    assert.equal(
      plan.totals.makespan,
      plan.layers.reduce((s, l) => s + l.makespan, 0),
    );
    assert.equal(plan.model.id, 'llama-3-8b-instruct-262k-minference');
    assert.equal(plan.costModel.unit, 'MAC');
  });

  it('keeps the contiguous engine contiguous (units are never reordered for it)', async () => {
    const resolved = resolveRequest(
      { model: 'llama-3-8b-instruct-262k-minference', gpus: { count: 8 }, solver: { engine: 'contiguous' } },
      context,
    );
    const plan = await solvePlan(resolved, createInlineRunner(glpk, engines));
    for (const layer of plan.layers)
      assert.deepEqual(
        layer.unit2gpu,
        layer.unit2gpu.map((_, u) => Math.floor(u / 4)),
      );
    assert.equal(plan.totals.makespan, plan.totals.contiguousMakespan);
  });

  it('gives equal requests equal ids and different requests different ids', () => {
    const request: PlanRequest = { model: 'llama-3-8b-instruct-262k-minference', gpus: { count: 8 } };
    const a = resolveRequest(request, context).id;
    assert.equal(
      resolveRequest({ ...request, granularity: 'query-head' }, context).id,
      a,
      'defaults spelled out change nothing',
    );
    assert.notEqual(resolveRequest({ ...request, gpus: { count: 4 } }, context).id, a);
    assert.notEqual(resolveRequest({ ...request, workload: { seqLen: 4096 } }, context).id, a);
  });

  it('solves identical layers once, also when their units are permuted', async () => {
    const row = [9, 7, 6, 5, 4, 4, 2, 1];
    const permuted = [1, 2, 4, 4, 5, 6, 7, 9];
    const runner = countingRunner();
    const resolved = resolveRequest(
      { costs: [row, permuted, row, [3, 3, 3, 3, 3, 3, 3, 3]], gpus: { count: 2 } },
      context,
    );
    const plan = await solvePlan(resolved, runner);
    assert.equal(runner.tasks.length, 2, 'two distinct multisets of costs');
    plan.layers.forEach((layer, i) => assertValidLayerResult(resolved.layers[i], layer));
    assert.equal(plan.layers[0].makespan, plan.layers[1].makespan);
    assert.equal(plan.layers[1].unit2gpu.length, 8);
  });

  it('shares its time limit out among hard layers on its clock and says which are not proven', async () => {
    // Each task "takes" its whole slice on the injected clock, the worst case for the budget, and
    // says so in its solveMs (which the second pass subtracts from the per-layer limit), however
    // long the real solver that answers it took on a loaded machine. Wall-clock behaviour is
    // reported by npm run bench:solver.
    let clock = 0;
    const inner = createInlineRunner(glpk, engines);
    const slices: number[] = [];
    const runner: LayerRunner = {
      concurrency: 1,
      run: async (task) => {
        slices.push(task.timeLimitMs);
        const outcome = await inner.run(task);
        clock += task.timeLimitMs;
        return { ...outcome, result: { ...outcome.result, solveMs: task.timeLimitMs } };
      },
    };
    const costs = Array.from({ length: 6 }, (_, l) => distinctCosts(64, 100 + l));
    const resolved = resolveRequest(
      { costs, gpus: { count: 8 }, solver: { timeLimitMs: 300, layerTimeLimitMs: 60, gapTolerance: 1e-6 } },
      context,
    );
    const plan = await solvePlan(resolved, runner, { now: () => clock });
    assert.ok(slices.length >= 6, `${slices.length} tasks for 6 distinct layers`);
    assert.ok(
      slices.every((ms) => ms > 0 && ms <= 60),
      `slices ${slices.join(', ')} within the per-layer limit`,
    );
    assert.ok(Math.abs(plan.totals.solveMs - clock) < 1e-9, 'solveMs is read from the injected clock');
    assert.ok(clock <= 300 + 1e-9, `the plan used ${clock} ms of its 300 ms`);
    assert.ok(clock >= 300 * 0.9, `the plan left ${300 - clock} ms of its 300 ms unused`);
    for (const layer of plan.layers) {
      if (layer.status === 'optimal' || layer.status === 'within_tolerance') assert.ok(layer.gap <= 1e-6 * (1 + 1e-9));
      else assert.ok(['time_limit', 'greedy_fallback'].includes(layer.status));
    }
  });

  it('shares time by need: proven layers run once, an unproven one runs again from its first answer and bound', async () => {
    // Layer 1 of this seeded case stays unproven however long it runs (bin completion does not
    // close it); the all-equal layer is trivially proven at once.
    const hard = logNormalCosts(64, 2, 1003)[1];
    const runner = countingRunner();
    const resolved = resolveRequest(
      {
        costs: [hard, new Array<number>(64).fill(5)],
        gpus: { count: 16 },
        solver: { timeLimitMs: 400, layerTimeLimitMs: 2000, gapTolerance: 1e-4 },
      },
      context,
    );
    const plan = await solvePlan(resolved, runner);
    plan.layers.forEach((layer, i) => assertValidLayerResult(resolved.layers[i], layer));
    assert.equal(plan.layers[1].status, 'optimal');
    assert.equal(plan.layers[0].status, 'time_limit');
    assert.equal(runner.tasks.length, 3, 'two first-pass tasks and one second-pass task');
    const [first, , second] = runner.tasks;
    assert.deepEqual(second.problem, first.problem);
    assert.ok(second.incumbent && second.lowerBound !== undefined, 'the second pass starts from the first answer');
    assert.ok(
      plan.layers[0].makespan <= makespanOf(second.problem, second.incumbent!),
      'never worse than the first answer',
    );
    assert.ok(plan.layers[0].lowerBound >= second.lowerBound!, 'never a lower bound than the first pass proved');
  });

  it('proves a KV-group limit infeasible when no placement exists', async () => {
    // 2 heads per GPU from one KV group each, but groups of 3 heads: one GPU must mix groups.
    const resolved = resolveRequest(
      { costs: [[1, 2, 3, 4, 5, 6]], kvGroupSize: 3, gpus: { count: 3 }, constraints: { maxKvGroupsPerGpu: 1 } },
      context,
    );
    await assert.rejects(solvePlan(resolved, createInlineRunner(glpk, engines)), {
      code: 'INFEASIBLE_CONSTRAINTS',
      message: /exhaustive search/,
    });
  });

  it('rejects impossible requests with typed errors', () => {
    assert.throws(() => resolveRequest({ model: 'no-such-model', gpus: { count: 8 } }, context), {
      code: 'UNKNOWN_MODEL',
    });
    assert.throws(() => resolveRequest({ model: 'llama-3-8b-instruct-262k-minference', gpus: { count: 3 } }, context), {
      code: 'UNITS_NOT_DIVISIBLE',
      message: /max:11/,
    });
    assert.throws(
      () =>
        resolveRequest(
          { model: 'llama-3-8b-instruct-262k-minference', gpus: { count: 8 }, constraints: { maxKvGroupsPerGpu: 0 } },
          context,
        ),
      { code: 'INVALID_PROBLEM' },
    );
    assert.throws(
      () =>
        resolveRequest(
          {
            costs: [[1, 2, 3, 4]],
            kvGroupSize: 2,
            gpus: { count: 2 },
            constraints: { maxKvGroupsPerGpu: 1, unitsPerGpu: 'max:1' },
          },
          context,
        ),
      { code: 'INFEASIBLE_CONSTRAINTS' },
    );
    assert.throws(() => resolveRequest({ costs: [[1, 2], [3]], gpus: { count: 1 } }, context), {
      code: 'INVALID_PROBLEM',
      message: /layer 1 has 1 heads/,
    });
  });
});
