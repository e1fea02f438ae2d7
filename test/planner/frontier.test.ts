import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANALYTIC_COST_MODEL } from '../../src/cost/cost-model.ts';
import { FRONTIER_CAPS, frontierCaps } from '../../src/planner/frontier.ts';
import { resolveRequest } from '../../src/planner/request.ts';
import { capOf } from '../../src/solver/kv/layer-kv.ts';

const context = {
  resolveProfile: () => assert.fail('explicit costs name no model'),
  resolveCostModel: () => ANALYTIC_COST_MODEL,
};

/** KV heads the contiguous placement stores in a layer, as the planner's layer problem counts them. */
function plannerContiguous(queryHeads: number, kvHeads: number, gpus: number): number {
  const resolved = resolveRequest(
    {
      costs: [Array.from({ length: queryHeads }, (_, h) => h + 1)],
      kvGroupSize: queryHeads / kvHeads,
      gpus: { count: gpus },
      constraints: { unitsPerGpu: 'free' },
    },
    context,
  );
  const contiguous = resolved.layers[0].contiguousKvHeads;
  assert.ok(contiguous !== undefined);
  return contiguous;
}

describe('frontierCaps', () => {
  it('keeps exactly the caps whose KV-head limit in the layer problems can bind, at any GPU count', () => {
    for (const [queryHeads, kvHeads] of [
      [32, 8],
      [28, 4],
      [64, 8],
    ]) {
      for (let gpus = 1; gpus <= 12; gpus++) {
        // unitsPerGpu free: a GPU may run every head, and store at most every group once.
        const most = Math.min(queryHeads, gpus * kvHeads);
        const contiguous = plannerContiguous(queryHeads, kvHeads, gpus);
        const binding = FRONTIER_CAPS.filter((cap) => capOf(cap, contiguous) < most);
        const shape = { queryHeads, kvHeads, gpus, granularity: 'query-head' as const, maxHeadsPerGpu: queryHeads };
        assert.deepEqual(frontierCaps(shape), [...binding, null], `${queryHeads}/${kvHeads} heads on ${gpus} GPUs`);
      }
    }
  });

  it('leaves out a cap that cannot bind where contiguous blocks straddle KV groups (32 heads, 8 groups, 5 GPUs)', () => {
    // Blocks of 7 heads touch 2, 3, 3, 2 and 1 groups: 11 stored, so a cap of 3 allows 33 of the 32 possible.
    assert.equal(plannerContiguous(32, 8, 5), 11);
    const shape = { queryHeads: 32, kvHeads: 8, gpus: 5, granularity: 'query-head' as const, maxHeadsPerGpu: 32 };
    assert.deepEqual(frontierCaps(shape), [1, 1.25, 1.5, 2, null]);
  });
});
