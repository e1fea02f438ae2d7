import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HplbError } from '../../src/errors.ts';
import { buildRowIndex, indexMask, type AttentionPattern } from '../../src/kernel/pattern.ts';
import { maskedAttention, maxAbsDiff } from '../../src/kernel/reference.ts';
import { sliceRows } from '../../src/kernel/row-range.ts';
import { createAttentionRunner, type AttentionRunner } from '../../src/kernel/sparse-attention.ts';
import { randomInput } from '../../src/kernel/timing.ts';

const PATTERNS: { name: string; pattern: AttentionPattern }[] = [
  { name: 'streaming', pattern: { kind: 'streaming', sink: 4, recent: 28 } },
  { name: 'vertical_slash', pattern: { kind: 'vertical_slash', columns: [0, 3, 77, 150], offsets: [0, 1, 5, 64] } },
  { name: 'full', pattern: { kind: 'full' } },
];

describe("a split head's parts on the GPU.js kernel (webasm)", () => {
  let runner: AttentionRunner;
  before(async () => {
    runner = await createAttentionRunner({ backend: 'webasm', cacheSize: 1 });
  });
  after(() => runner.destroy());

  for (const { name, pattern } of PATTERNS) {
    it(`${name}: the parts' outputs, concatenated, equal the whole head's (max abs error <= 1e-6)`, async () => {
      const input = randomInput(200, 16, 'prefill', 11);
      const index = buildRowIndex(pattern, input);
      const whole = await runner.sparseIndexed(input, index);
      const cuts = [0, 37, 120, 200];
      const outputs: Float32Array[] = [];
      let pairs = 0;
      for (let i = 0; i + 1 < cuts.length; i++) {
        const part = sliceRows(input, index, cuts[i], cuts[i + 1]);
        const result = await runner.sparseIndexed(part.input, part.index);
        assert.equal(result.rows, cuts[i + 1] - cuts[i]);
        outputs.push(result.output);
        pairs += result.pairs;
      }
      const joined = new Float32Array(whole.output.length);
      let offset = 0;
      for (const out of outputs) {
        joined.set(out, offset);
        offset += out.length;
      }
      assert.ok(maxAbsDiff(joined, whole.output) <= 1e-6, `error ${maxAbsDiff(joined, whole.output)}`);
      assert.equal(pairs, whole.pairs, "the parts compute the whole head's pairs, no more");
      // And the whole agrees with the float64 reference on the same keys.
      assert.ok(maxAbsDiff(whole.output, maskedAttention(input, indexMask(index))) < 1e-4);
    });
  }

  it('refuses an empty or out-of-range row range', () => {
    const input = randomInput(10, 4, 'prefill');
    const index = buildRowIndex({ kind: 'full' }, input);
    for (const [start, end] of [
      [3, 3],
      [-1, 4],
      [5, 11],
    ]) {
      const named = (error: unknown) =>
        error instanceof HplbError && error.code === 'INVALID_PROBLEM' && error.pointer === '/rows';
      assert.throws(() => sliceRows(input, index, start, end), named);
    }
  });
});
