import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blocksToKeysPerRow, keysPerRowToBlocks, linesToKeysPerRow, rescaleBudget } from '../../src/budgets/units.ts';
import { HplbError } from '../../src/errors.ts';
import { selectBlockSparse } from '../../src/kernel/minference.ts';
import { buildRowIndex } from '../../src/kernel/pattern.ts';
import { syntheticHead } from '../../src/kernel/synthetic.ts';

describe('budget units', () => {
  it("blocks to keys per row: the mean over rows of what MInference's picker runs when it keeps the diagonal block", () => {
    // a local head: the picker keeps the diagonal block, so the row index holds exactly the counted keys
    const head = syntheticHead({ kind: 'local', n: 640, seed: 4 });
    for (const blocks of [1, 2, 4]) {
      const pattern = selectBlockSparse(head, blocks);
      assert.ok(
        pattern.blocks.every((list, qb) => list.includes(qb)),
        'the diagonal block is kept',
      );
      assert.ok(
        Math.abs(blocksToKeysPerRow(blocks, 640) - buildRowIndex(pattern, head).pairs / 640) < 1e-9,
        `${blocks} blocks`,
      );
    }
    assert.equal(blocksToKeysPerRow(100, 640), 641 / 2, 'enough blocks for every row is full causal attention');
  });

  it('keys per row to blocks: the fewest blocks of 64 covering them', () => {
    assert.deepEqual([1, 64, 65, 4096].map(keysPerRowToBlocks), [1, 1, 2, 64]);
    assert.throws(() => keysPerRowToBlocks(0), HplbError);
  });

  it('lines to keys per row needs the split: columns and diagonals cost different keys', () => {
    const columnHeavy = linesToKeysPerRow({ vertical: 3000, slash: 1000 }, 131072);
    const diagonalHeavy = linesToKeysPerRow({ vertical: 1000, slash: 3000 }, 131072);
    assert.notEqual(columnHeavy.estimate, diagonalHeavy.estimate);
    for (const k of [columnHeavy, diagonalHeavy]) assert.ok(k.low <= k.estimate && k.estimate <= k.high);
  });

  it('carries a budget to another length only by a stated rule', () => {
    assert.equal(rescaleBudget(300, 4096, 4096, undefined), 300);
    assert.equal(rescaleBudget(300, 4096, 131072, 'fixed'), 300);
    assert.equal(rescaleBudget(300, 4096, 131072, 'proportional'), 9600);
    assert.equal(rescaleBudget(5, 1000, 3000, 'proportional'), 15);
    assert.throws(
      () => rescaleBudget(300, 4096, 131072, undefined),
      (error: unknown) => {
        assert.ok(error instanceof HplbError);
        assert.equal(error.pointer, '/rescale');
        assert.match(error.message, /measured at 4096 tokens cannot be costed at 131072 tokens without a rule/);
        return true;
      },
    );
  });
});
