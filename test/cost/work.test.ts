import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createExecutedWorkCostModel } from '../../src/cost/cost-model.ts';
import { kvBytes } from '../../src/cost/head-shape.ts';
import { executedMacs, headWork, rowRangeWork, TILE } from '../../src/cost/work.ts';
import { HplbError } from '../../src/errors.ts';
import { selectVerticalSlash } from '../../src/kernel/minference.ts';
import { patternWork } from '../../src/kernel/pattern-work.ts';
import { syntheticHead } from '../../src/kernel/synthetic.ts';
import type { HeadBudget } from '../../src/profiles/head-budget.ts';

const prefill = (seqLen: number) => ({ seqLen, phase: 'prefill' as const });

describe('executed work of exactly known patterns', () => {
  it('full attention runs the causal triangle of 64 x 64 tiles', () => {
    const work = headWork({ kind: 'full' }, prefill(256));
    assert.equal(work.exact, true);
    assert.equal(work.estimate.tiles, 1 + 2 + 3 + 4);
    assert.equal(work.estimate.executedPairs, 10 * TILE * TILE);
    assert.equal(work.estimate.pairs, (256 * 257) / 2);
    assert.equal(work.estimate.maxRowKeys, 256);
  });

  const CASES: { name: string; head: HeadBudget; n: number }[] = [
    { name: 'full, n not a multiple of 64', head: { kind: 'full' }, n: 300 },
    { name: 'streaming, sink inside the window', head: { kind: 'streaming', sink: 4, recent: 100 }, n: 500 },
    { name: 'streaming, sink apart from the window', head: { kind: 'streaming', sink: 128, recent: 256 }, n: 1000 },
    { name: 'streaming, unaligned sink', head: { kind: 'streaming', sink: 70, recent: 30 }, n: 640 },
  ];
  for (const { name, head, n } of CASES) {
    it(`${name}: the closed form equals the count over the built row index`, () => {
      const pattern =
        head.kind === 'full'
          ? { kind: 'full' as const }
          : {
              kind: 'streaming' as const,
              sink: head.kind === 'streaming' ? head.sink : 0,
              recent: head.kind === 'streaming' ? head.recent : 0,
            };
      const counted = patternWork(pattern, { n, causal: true });
      const closed = headWork(head, prefill(n)).estimate;
      for (const key of ['tiles', 'executedPairs', 'pairs', 'maxRowKeys'] as const)
        assert.equal(closed[key], counted[key], key);
    });
  }
});

describe('executed work of vertical_slash heads known by their sizes', () => {
  it("brackets what MInference's own selection executes on synthetic heads", () => {
    for (const kind of ['sink', 'local', 'vertical', 'diffuse'] as const) {
      const head = syntheticHead({ kind, n: 1024, seed: 2 });
      for (const [vertical, slash] of [
        [30, 50],
        [100, 100],
        [200, 60],
      ]) {
        const exact = patternWork(selectVerticalSlash(head, { vertical, slash }), { n: 1024, causal: true });
        const { low, high, exact: isExact } = headWork({ kind: 'vertical_slash', vertical, slash }, prefill(1024));
        assert.equal(isExact, false);
        assert.ok(
          low.executedPairs <= exact.executedPairs && exact.executedPairs <= high.executedPairs,
          `${kind} ${vertical}/${slash}: ${exact.executedPairs} in [${low.executedPairs}, ${high.executedPairs}]`,
        );
      }
    }
  });

  it('keeps vertical and slash apart: equal sums, different work; the estimate lies in its range', () => {
    const workload = prefill(131072);
    const columnHeavy = headWork({ kind: 'vertical_slash', vertical: 3000, slash: 1000 }, workload);
    const diagonalHeavy = headWork({ kind: 'vertical_slash', vertical: 1000, slash: 3000 }, workload);
    assert.notEqual(columnHeavy.estimate.executedPairs, diagonalHeavy.estimate.executedPairs);
    for (const work of [columnHeavy, diagonalHeavy]) {
      assert.ok(
        work.low.executedPairs <= work.estimate.executedPairs && work.estimate.executedPairs <= work.high.executedPairs,
      );
    }
  });

  it('grows with either size and never counts below the forced lines', () => {
    const at = (vertical: number, slash: number) =>
      headWork({ kind: 'vertical_slash', vertical, slash }, prefill(32768)).estimate.executedPairs;
    assert.ok(at(100, 1000) < at(100, 2000));
    assert.ok(at(100, 1000) < at(2000, 1000));
    assert.equal(at(0, 1), at(30, 50), 'sizes below the minimums are raised to 30 and 50');
  });
});

describe('rowRangeWork', () => {
  const heads: HeadBudget[] = [
    { kind: 'full' },
    { kind: 'streaming', sink: 64, recent: 300 },
    { kind: 'vertical_slash', vertical: 500, slash: 900 },
  ];
  for (const head of heads) {
    it(`${head.kind}: parts split at query rows add up to the whole head`, () => {
      const workload = prefill(4000);
      const whole = headWork(head, workload).estimate;
      for (const cut of [64 * 20, 1234]) {
        const a = rowRangeWork(head, workload, 0, cut).estimate;
        const b = rowRangeWork(head, workload, cut, 4000).estimate;
        assert.ok(Math.abs(a.executedPairs + b.executedPairs - whole.executedPairs) <= 1e-6 * whole.executedPairs);
        assert.ok(Math.abs(a.pairs + b.pairs - whole.pairs) <= 1e-6 * whole.pairs);
        assert.equal(a.rows + b.rows, 4000);
      }
      const later = rowRangeWork(head, workload, 3000, 3500).estimate.executedPairs;
      const earlier = rowRangeWork(head, workload, 0, 500).estimate.executedPairs;
      assert.ok(later >= earlier, 'later rows see more keys under a causal mask');
    });
  }

  it('refuses an empty or out-of-range row range', () => {
    for (const [start, end] of [
      [5, 5],
      [-1, 3],
      [0, 4001],
      [1.5, 3],
    ]) {
      assert.throws(
        () => rowRangeWork({ kind: 'full' }, prefill(4000), start, end),
        (error: unknown) => error instanceof HplbError && error.code === 'INVALID_PROBLEM',
      );
    }
    assert.throws(() => rowRangeWork({ kind: 'full' }, { seqLen: 4000, phase: 'decode' }, 0, 2), /inside \[0, 1\)/);
  });
});

describe('decode work', () => {
  it('reads every key for MInference heads (it decodes dense) and the window for streaming heads', () => {
    const decode = (seqLen: number) => ({ seqLen, phase: 'decode' as const });
    assert.equal(
      headWork({ kind: 'vertical_slash', vertical: 100, slash: 800 }, decode(65536)).estimate.keysRead,
      65536,
    );
    assert.equal(headWork({ kind: 'streaming', sink: 128, recent: 256 }, decode(65536)).estimate.keysRead, 384);
    assert.equal(headWork({ kind: 'streaming', sink: 128, recent: 256 }, decode(100)).estimate.keysRead, 100);
    assert.equal(kvBytes(4096, { headDim: 128, dtypeBytes: 2 }), 4096 * 2 * 128 * 2);
  });
});

describe('the executed-work cost model', () => {
  const model = createExecutedWorkCostModel();
  it('costs 2 d MACs per executed pair, so d = 128 costs twice d = 64', () => {
    const head: HeadBudget = { kind: 'vertical_slash', vertical: 1000, slash: 6096 };
    const workload = prefill(131072);
    const work = headWork(head, workload).estimate;
    assert.equal(
      model.headCost(head, workload, { headDim: 128, dtypeBytes: 2 }),
      executedMacs(work, { headDim: 128, dtypeBytes: 2 }),
    );
    assert.equal(
      model.headCost(head, workload, { headDim: 128, dtypeBytes: 2 }),
      2 * model.headCost(head, workload, { headDim: 64, dtypeBytes: 2 }),
    );
    assert.equal(model.unit, 'MAC');
  });
});
