/**
 * The page's count of the KV heads contiguous placement stores per GPU (public/plan-math.js)
 * against the planner's own (contiguous engine + plan-kv.ts), on every shape the page can show.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contiguousKvHeadsPerGpu } from '../../public/plan-math.js';
import { kvHeadsPerGpuOf, unitGroups } from '../../src/planner/plan-kv.ts';
import { contiguousPlacement } from '../../src/solver/engines/contiguous.ts';
import type { LayerProblem } from '../../src/solver/types.ts';

/** [gpus] what the planner counts for contiguous placement of `units` units on `gpus` GPUs. */
function plannerCount(
  units: number,
  gpus: number,
  granularity: 'query-head' | 'kv-group',
  kvGroupSize: number,
): number[] {
  const problem = { costs: new Array(units).fill(1), speeds: new Array(gpus).fill(1) } as unknown as LayerProblem;
  const unit2gpu = contiguousPlacement(problem);
  const gpu2units: number[][] = Array.from({ length: gpus }, () => []);
  unit2gpu.forEach((g, u) => gpu2units[g].push(u));
  return kvHeadsPerGpuOf(gpu2units, unitGroups({ granularity, kvGroupSize }, units));
}

describe("the page's contiguous KV heads per GPU", () => {
  it('agrees with the planner for query-head and KV-group units, any GPU count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        (kvHeads, groupSize, gpus, byGroup) => {
          const heads = kvHeads * groupSize;
          const units = byGroup ? kvHeads : heads;
          const expected = plannerCount(units, gpus, byGroup ? 'kv-group' : 'query-head', groupSize);
          assert.deepEqual(contiguousKvHeadsPerGpu(units, gpus, byGroup ? 1 : groupSize), expected);
        },
      ),
    );
  });

  it('stores one KV head per GPU for Llama-3-8B at 8 GPUs and vLLM-style replicas beyond the KV heads', () => {
    assert.deepEqual(contiguousKvHeadsPerGpu(32, 8, 4), new Array(8).fill(1));
    assert.deepEqual(contiguousKvHeadsPerGpu(32, 16, 4), new Array(16).fill(1));
    assert.deepEqual(contiguousKvHeadsPerGpu(40, 4, 5), [2, 2, 2, 2]);
  });
});
