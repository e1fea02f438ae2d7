import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCostModelResolver } from '../../src/cost/registry.ts';
import { HplbError } from '../../src/errors.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner } from '../../src/planner/layer-task.ts';
import { resolveRequest, type PlanRequest } from '../../src/planner/request.ts';
import { solvePlan } from '../../src/planner/solve-plan.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { splitViolation } from '../../src/solver/split/part-cost.ts';

const registry = loadRegistry();
const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel: createCostModelResolver() };
const runner = createInlineRunner(await loadGlpk());
const FLAGSHIP = 'llama-3-8b-instruct-262k-minference';
const quick = { timeLimitMs: 20_000, layerTimeLimitMs: 300 };

describe('plans with split heads', () => {
  it('leave a plan without splits unchanged (same id, no split fields) when maxSplitHeads is 0', async () => {
    const request: PlanRequest = { costs: [[9, 1, 1, 1]], gpus: { count: 2 } };
    const off = resolveRequest(
      { ...request, constraints: { splits: { maxSplitHeads: 0, maxPartsPerHead: 3 } } },
      context,
    );
    assert.equal(off.id, resolveRequest(request, context).id);
    const plan = await solvePlan(off, runner);
    assert.equal(plan.splits, undefined);
    assert.equal(plan.layers[0].parts, undefined);
    assert.equal(plan.totals.fluidBound, undefined);
    assert.equal(plan.totals.splitHeads, undefined);
  });

  it("split the flagship's heavy heads: every rule holds, totals add up, no worse than whole heads", async () => {
    // Without a KV cap: a part brings its group's K/V onto another GPU.
    const base: PlanRequest = {
      model: FLAGSHIP,
      gpus: { count: 8 },
      constraints: { maxKvCacheFactor: null },
      solver: quick,
    };
    // The first eight layers (all 32 took 15 s a plan, past the plan's limit on 2 busy cores).
    const firstLayers = (request: PlanRequest) => {
      const resolved = resolveRequest(request, context);
      return { ...resolved, layers: resolved.layers.slice(0, 8) };
    };
    const whole = await solvePlan(firstLayers(base), runner);
    const resolved = firstLayers({ ...base, constraints: { maxKvCacheFactor: null, splits: { maxSplitHeads: 7 } } });
    assert.notEqual(resolved.id, whole.id);
    const plan = await solvePlan(resolved, runner);
    assert.deepEqual(
      plan.splits,
      { maxSplitHeads: 7, maxPartsPerHead: 2, partOverhead: 64 * 2 * 128 },
      'a one-row head: one 64-key tile, 2 d MACs per pair',
    );
    plan.layers.forEach((layer, l) => {
      const problem = resolved.layers[l];
      assert.equal(splitViolation(problem, problem.splits!, layer.unit2gpu, layer.parts!), null);
      assert.ok(layer.makespan <= whole.layers[l].makespan * (1 + 1e-12));
      assert.ok(layer.lowerBound <= layer.makespan);
      assert.deepEqual(
        layer.extraKvBytes,
        layer.extraKvCopies!.map((c) => c * 131072 * 128 * 2 * 2),
      );
    });
    assert.equal(
      plan.totals.splitHeads,
      plan.layers.reduce((s, l) => s + l.splitHeads!, 0),
    );
    assert.ok(plan.totals.splitHeads! > 0);
    assert.ok(plan.totals.fluidBound! <= plan.totals.makespan);
    assert.ok(plan.totals.makespan < whole.totals.makespan, `${plan.totals.makespan} < ${whole.totals.makespan}`);
  });

  it('split KV-group units with an overhead per head of the group', async () => {
    const request: PlanRequest = {
      costs: [[50, 50, 1, 1, 1, 1, 1, 1]],
      kvGroupSize: 2,
      granularity: 'kv-group',
      gpus: { count: 2 },
      // No KV-cache cap: a part of a KV-group unit stores its group again (cap 1.0 allows none).
      constraints: { unitsPerGpu: 'free', maxKvCacheFactor: null, splits: { maxSplitHeads: 1, partOverhead: 1 } },
    };
    const resolved = resolveRequest(request, context);
    assert.equal(resolved.layers[0].splits!.units[0].partOverhead, 2);
    const plan = await solvePlan(resolved, runner);
    const layer = plan.layers[0];
    assert.equal(layer.splitHeads, 1);
    assert.deepEqual(
      layer.parts!.map((p) => p.unit),
      [0, 0],
    );
    // Group 0 (cost 100) split in two parts, each paying 2: the 6 others on the second GPU.
    assert.ok(Math.abs(layer.makespan - 55) <= 0.01, `makespan ${layer.makespan}`);
    assert.equal(plan.layers[0].extraKvBytes, null);
  });

  it('keep the KV-cache cap where heads are their own KV groups (MHA): at 1.0 no head is split, and the proofs stand', async () => {
    const request: PlanRequest = {
      model: 'llama-2-7b-32k-instruct-duo',
      gpus: { count: 2 },
      constraints: { maxKvCacheFactor: 1, splits: { maxSplitHeads: 2 } },
      solver: quick,
    };
    const resolved = resolveRequest(request, context);
    const plan = await solvePlan({ ...resolved, layers: resolved.layers.slice(0, 4) }, runner);
    assert.equal(plan.totals.kvCacheFactor, 1);
    for (const layer of plan.layers) {
      assert.equal(layer.splitHeads, 0);
      assert.equal(layer.status, 'optimal', `layer ${layer.layer}: the whole-head problem is the layer's`);
    }
    const looser = resolveRequest(
      { ...request, constraints: { maxKvCacheFactor: 1.25, splits: { maxSplitHeads: 2 } } },
      context,
    );
    const split = await solvePlan({ ...looser, layers: looser.layers.slice(0, 4) }, runner);
    assert.ok(split.totals.kvCacheFactor <= 1.25);
    for (const layer of split.layers) {
      const problem = looser.layers[layer.layer];
      assert.equal(splitViolation(problem, problem.splits!, layer.unit2gpu, layer.parts!), null);
    }
  });

  it('refuse decode, a workload mix, a KV-group limit and out-of-range limits, naming the field', () => {
    const flagship = { model: FLAGSHIP, gpus: { count: 8 } };
    const tiny = { costs: [[1, 2]], gpus: { count: 2 } };
    const at = '/constraints/splits/';
    const one = { maxSplitHeads: 1 };
    const cases: [PlanRequest, string, string][] = [
      [{ ...flagship, workload: { phase: 'decode' }, constraints: { splits: one } }, `${at}maxSplitHeads`, 'phase'],
      [
        {
          ...flagship,
          workload: { mix: [{ phase: 'prefill', seqLen: 4096, weight: 1 }] },
          constraints: { splits: one },
        },
        `${at}maxSplitHeads`,
        'phase',
      ],
      [{ ...flagship, constraints: { maxKvGroupsPerGpu: 2, splits: one } }, `${at}maxSplitHeads`, 'combination'],
      [{ ...tiny, constraints: { splits: { ...one, maxPartsPerHead: 1 } } }, `${at}maxPartsPerHead`, 'minimum'],
      [{ ...tiny, constraints: { splits: { maxSplitHeads: 1, partOverhead: -1 } } }, `${at}partOverhead`, 'minimum'],
      [{ ...tiny, constraints: { splits: { maxSplitHeads: 0.5 } } }, `${at}maxSplitHeads`, 'minimum'],
      [
        { ...flagship, previous: { unit2gpu: [[0]] }, constraints: { splits: one } },
        `${at}maxSplitHeads`,
        'combination',
      ],
    ];
    for (const [request, pointer, rule] of cases) {
      const named = (error: unknown) =>
        error instanceof HplbError &&
        error.code === 'INVALID_PROBLEM' &&
        error.pointer === pointer &&
        error.rule === rule;
      assert.throws(() => resolveRequest(request, context), named, pointer);
    }
  });
});
