import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headOrder, rankHeads } from '../../src/apply/head-order.ts';
import type { HplbError } from '../../src/errors.ts';
import { planOf } from './plans.ts';

const GQA = { layers: 1, queryHeads: 8, kvHeads: 2 };

describe('head order of a plan under contiguous tensor-parallel sharding', () => {
  const CASES = [
    {
      name: 'more ranks than KV heads: each KV head replicated over the ranks of its query heads',
      plan: planOf('query-head', 8, [[4, 5, 6, 7, 0, 1, 2, 3]]),
      counts: GQA,
      outputKvHeads: 2,
      kvCacheFactor: 1,
      planKvCacheFactor: 1,
      rankKv: [[1], [1], [1], [1], [0], [0], [0], [0]],
    },
    {
      name: 'a split plan with replicated KV heads: one KV head per rank either way, so no extra memory',
      plan: planOf('query-head', 8, [[0, 4, 1, 5, 2, 6, 3, 7]]),
      counts: GQA,
      outputKvHeads: 8,
      kvCacheFactor: 1,
      planKvCacheFactor: 1,
      rankKv: [[0], [1], [0], [1], [0], [1], [0], [1]],
    },
    {
      name: 'the fewest duplicated KV heads: pairs of query heads still share one',
      plan: planOf('query-head', 2, [[0, 1, 4, 5, 2, 3, 6, 7]]),
      counts: GQA,
      outputKvHeads: 4,
      kvCacheFactor: 2,
      planKvCacheFactor: 2,
      rankKv: [
        [0, 1],
        [0, 1],
      ],
    },
    {
      name: 'three heads of one group and one of another on a rank: the engine needs copies the plan does not',
      plan: planOf('query-head', 2, [[0, 1, 2, 4, 3, 5, 6, 7]]),
      counts: GQA,
      outputKvHeads: 8,
      kvCacheFactor: 4,
      planKvCacheFactor: 2,
      rankKv: [
        [0, 0, 0, 1],
        [0, 1, 1, 1],
      ],
    },
    {
      name: 'multi-head attention: any query-head plan fits',
      plan: planOf('query-head', 4, [[7, 2, 5, 0, 3, 6, 1, 4]]),
      counts: { layers: 1, queryHeads: 8, kvHeads: 8 },
      outputKvHeads: 8,
      kvCacheFactor: 1,
      planKvCacheFactor: 1,
      rankKv: [
        [7, 2],
        [5, 0],
        [3, 6],
        [1, 4],
      ],
    },
  ];
  for (const c of CASES) {
    it(c.name, () => {
      const order = headOrder(c.plan, c.counts, { expandKv: true });
      assert.equal(order.outputKvHeads, c.outputKvHeads);
      assert.equal(order.kvCacheFactor, c.kvCacheFactor);
      assert.equal(order.planKvCacheFactor, c.planKvCacheFactor);
      const ranks = rankHeads(c.plan, order)[0].ranks;
      assert.deepEqual(
        ranks.map((r) => r.kvHeads),
        c.rankKv,
      );
      const perRank = 8 / c.plan.gpus.count;
      const slots = c.plan.layers[0].permutation;
      const planned = ranks.map((_, g) => slots.slice(g * perRank, (g + 1) * perRank));
      assert.deepEqual(
        ranks.map((r) => r.queryHeads),
        planned,
      );
      const [perKv, groupSize] = [c.counts.queryHeads / order.outputKvHeads, c.counts.queryHeads / c.counts.kvHeads];
      const { queryHeads, kvHeads } = order.layers[0];
      queryHeads.forEach((head, j) => assert.equal(kvHeads[Math.floor(j / perKv)], Math.floor(head / groupSize)));
      if (order.outputKvHeads !== c.counts.kvHeads) {
        const refused = (error: HplbError): boolean =>
          error.code === 'PLAN_MISMATCH' && error.message.includes(`write ${c.outputKvHeads} KV heads`);
        assert.throws(() => headOrder(c.plan, c.counts), refused);
      }
    });
  }
});
