import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveCostModel } from '../../src/cost/registry.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner } from '../../src/planner/layer-task.ts';
import type { PlanLayer } from '../../src/planner/plan.ts';
import { evenKvLabels, kvLabelBound, largestGpuSum, relabelLayer } from '../../src/planner/relabel.ts';
import { resolveRequest } from '../../src/planner/request.ts';
import { solvePlan } from '../../src/planner/solve-plan.ts';

/** Every permutation of 0..n-1. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
  );
}

/** The least largest per-GPU sum over every relabelling of every layer (brute force). */
function bestLabelling(kv: readonly (readonly number[])[]): number {
  const perms = permutations(kv[0].length);
  let best = Infinity;
  const walk = (l: number, totals: number[]): void => {
    if (l === kv.length) {
      best = Math.min(best, Math.max(...totals));
      return;
    }
    for (const p of perms)
      walk(
        l + 1,
        totals.map((t, label) => t + kv[l][p[label]]),
      );
  };
  walk(0, new Array<number>(kv[0].length).fill(0));
  return best;
}

const kvTables = fc.integer({ min: 2, max: 3 }).chain((gpus) =>
  fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: gpus, maxLength: gpus }), {
    minLength: 1,
    maxLength: 4,
  }),
);

describe('relabelling GPUs for even KV caches', () => {
  it('gives each layer a permutation; bound <= best relabelling <= the greedy answer (brute force)', () => {
    fc.assert(
      fc.property(kvTables, (kv) => {
        const labels = evenKvLabels(kv);
        labels.forEach((row) =>
          assert.deepEqual(
            [...row].sort((a, b) => a - b),
            kv[0].map((_, g) => g),
          ),
        );
        const relabelled = kv.map((row, l) => labels[l].map((g) => row[g]));
        const best = bestLabelling(kv);
        assert.ok(kvLabelBound(kv) <= best, `bound ${kvLabelBound(kv)} above the best ${best}`);
        assert.ok(best <= largestGpuSum(relabelled));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps even layers as they are and spreads uneven ones', () => {
    assert.deepEqual(evenKvLabels([[2, 2, 2]]), [[0, 1, 2]]);
    const kv = [
      [2, 1],
      [2, 1],
    ];
    const labels = evenKvLabels(kv);
    assert.equal(largestGpuSum(kv.map((row, l) => labels[l].map((g) => row[g]))), 3);
    assert.equal(kvLabelBound(kv), 3);
  });

  it('moves a layer to new labels without changing anything but the labels', () => {
    const layer = {
      layer: 0,
      unit2gpu: [0, 0, 1, 2],
      gpu2units: [[0, 1], [2], [3]],
      permutation: [0, 1, 2, 3],
      gpuLoads: [5, 3, 1],
      kvHeadsPerGpu: [1, 1, 1],
      parts: [{ unit: 2, gpu: 1, rows: [0, 10] as [number, number], cost: 1 }],
    } as unknown as PlanLayer;
    const moved = relabelLayer(layer, [2, 0, 1]);
    assert.deepEqual(moved.unit2gpu, [1, 1, 2, 0]);
    assert.deepEqual(moved.gpu2units, [[3], [0, 1], [2]]);
    assert.deepEqual(moved.permutation, [3, 0, 1, 2]);
    assert.deepEqual(moved.gpuLoads, [1, 5, 3]);
    assert.equal(moved.parts![0].gpu, 2);
  });

  it('evens the per-GPU KV cache of a whole plan on identical GPUs, loads unchanged', async () => {
    // Layer costs put two groups on GPU 0 without a cap; relabelling spreads the doubly stored GPU.
    const row = [9, 1, 1, 1, 1, 1, 1, 9];
    const resolved = resolveRequest(
      {
        costs: [row, row, row, row],
        kvGroupSize: 2,
        gpus: { count: 4 },
        constraints: { maxKvCacheFactor: null, unitsPerGpu: 'max:3' },
      },
      { resolveProfile: () => assert.fail('explicit costs name no model'), resolveCostModel },
    );
    const plan = await solvePlan(resolved, createInlineRunner(await loadGlpk()));
    const kv = plan.layers.map((l) => l.kvHeadsPerGpu!);
    assert.equal(largestGpuSum(kv), kvLabelBound(kv), 'the largest per-GPU sum meets its bound');
    for (const layer of plan.layers) assert.equal(Math.max(...layer.gpuLoads), layer.makespan);
  });
});
