import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HplbError } from '../../src/errors.ts';
import { detectBackends } from '../../src/kernel/backends.ts';
import { blockCount, buildRowIndex, indexMask, type AttentionPattern } from '../../src/kernel/pattern.ts';
import { denseAttention, maskedAttention, maxAbsDiff, type AttentionInput } from '../../src/kernel/reference.ts';
import { createAttentionRunner, type AttentionRunner } from '../../src/kernel/sparse-attention.ts';
import { createGaussian, createRandom } from '../../src/random.ts';

const TOLERANCE = 1e-4;

function randomInput(
  n: number,
  d: number,
  seed: number,
  options: { causal?: boolean; queries?: number; spread?: number } = {},
): AttentionInput {
  const gaussian = createGaussian(createRandom(seed));
  const spread = options.spread ?? 1;
  const queries = options.queries ?? n;
  const fill = (length: number): Float32Array => Float32Array.from({ length }, () => spread * gaussian());
  return { n, d, queries, causal: options.causal ?? true, q: fill(queries * d), k: fill(n * d), v: fill(n * d) };
}

describe('GPU.js sparse attention (webasm)', () => {
  let runner: AttentionRunner;
  before(async () => {
    runner = await createAttentionRunner({ backend: 'webasm', cacheSize: 1 });
  });
  after(() => runner.destroy());

  describe('full pattern equals dense attention', () => {
    // n not a multiple of any block size among them; d from 1 to 64
    const SHAPES = [
      [1, 8],
      [7, 1],
      [33, 16],
      [100, 64],
      [129, 32],
    ] as const;
    for (const [n, d] of SHAPES) {
      for (const causal of [true, false]) {
        it(`n=${n}, d=${d}, causal=${causal}`, async () => {
          const input = randomInput(n, d, n * 31 + d, { causal, spread: 1.5 });
          const expected = denseAttention(input);
          const full = await runner.sparse(input, { kind: 'full' });
          const dense = await runner.dense(input);
          assert.ok(
            maxAbsDiff(full.output, expected) < TOLERANCE,
            `full pattern error ${maxAbsDiff(full.output, expected)}`,
          );
          assert.ok(
            maxAbsDiff(dense.output, expected) < TOLERANCE,
            `dense pipeline error ${maxAbsDiff(dense.output, expected)}`,
          );
          assert.equal(full.backend, 'webasm');
          assert.equal(dense.backend, 'webasm');
          assert.equal(full.pairs, dense.pairs);
        });
      }
    }
  });

  describe('each sparse pattern equals masked dense attention with the same mask', () => {
    const n = 90;
    const CASES: { name: string; pattern: AttentionPattern }[] = [
      {
        name: 'vertical_slash (MInference ranges, blocks of 16)',
        pattern: { kind: 'vertical_slash', columns: [0, 1, 17, 50, 89], offsets: [0, 1, 2, 9, 40], blockSize: 16 },
      },
      {
        name: 'vertical_slash (MInference ranges, blocks of 64)',
        pattern: { kind: 'vertical_slash', columns: [3, 70], offsets: [0, 33] },
      },
      {
        name: 'exact_vertical_slash',
        pattern: { kind: 'exact_vertical_slash', columns: [0, 1, 17, 50, 89], offsets: [0, 1, 2, 9, 40] },
      },
      {
        name: 'exact_vertical_slash without the diagonal listed',
        pattern: { kind: 'exact_vertical_slash', columns: [3], offsets: [5] },
      },
      {
        name: 'block_sparse, block 16 (n not a multiple)',
        pattern: { kind: 'block_sparse', blockSize: 16, blocks: [[0], [0, 1], [0, 2], [1], [0, 3, 4], [2, 5]] },
      },
      {
        name: 'block_sparse, block 7',
        pattern: {
          kind: 'block_sparse',
          blockSize: 7,
          blocks: Array.from({ length: blockCount(n, 7) }, (_, qb) => (qb % 2 ? [0, qb] : [qb])),
        },
      },
      { name: 'streaming', pattern: { kind: 'streaming', sink: 4, recent: 16 } },
    ];
    for (const { name, pattern } of CASES) {
      for (const options of [{ causal: true }, { causal: false }, { causal: true, queries: 3 }]) {
        it(`${name} (causal=${options.causal}, queries=${options.queries ?? n})`, async () => {
          const input = randomInput(n, 24, name.length * 7 + (options.queries ?? 0), options);
          const expected = maskedAttention(input, indexMask(buildRowIndex(pattern, input)));
          const result = await runner.sparse(input, pattern);
          assert.ok(maxAbsDiff(result.output, expected) < TOLERANCE, `error ${maxAbsDiff(result.output, expected)}`);
          assert.equal(result.pattern, pattern.kind);
          assert.equal(result.backend, 'webasm');
          assert.equal(result.output.length, (options.queries ?? n) * 24);
        });
      }
    }
  });

  describe('a budget at or above n behaves as dense', () => {
    const n = 50;
    const input = randomInput(n, 16, 5);
    const PATTERNS: { name: string; pattern: AttentionPattern }[] = [
      { name: 'streaming window of n', pattern: { kind: 'streaming', sink: 0, recent: n } },
      { name: 'streaming sink + window beyond n', pattern: { kind: 'streaming', sink: 64, recent: 64 } },
      {
        name: 'every diagonal',
        pattern: { kind: 'exact_vertical_slash', columns: [], offsets: Array.from({ length: n }, (_, i) => i) },
      },
      {
        name: 'every column',
        pattern: { kind: 'exact_vertical_slash', columns: Array.from({ length: n }, (_, i) => i), offsets: [] },
      },
      {
        name: 'every key block',
        pattern: { kind: 'block_sparse', blockSize: 16, blocks: Array.from({ length: 4 }, () => [0, 1, 2, 3]) },
      },
    ];
    for (const { name, pattern } of PATTERNS) {
      it(name, async () => {
        const result = await runner.sparse(input, pattern);
        assert.ok(maxAbsDiff(result.output, denseAttention(input)) < TOLERANCE);
        assert.equal(result.pairs, (n * (n + 1)) / 2);
      });
    }
  });

  it('rejects an invalid pattern with INVALID_PROBLEM before running', async () => {
    const input = randomInput(10, 4, 1);
    await assert.rejects(
      runner.sparse(input, { kind: 'vertical_slash', columns: [3, 3], offsets: [0] }),
      (error: unknown) => {
        assert.ok(error instanceof HplbError);
        assert.equal(error.code, 'INVALID_PROBLEM');
        assert.equal(error.pointer, '/columns/1');
        return true;
      },
    );
  });

  it('rejects inputs of the wrong size', async () => {
    const input = { ...randomInput(10, 4, 1), k: new Float32Array(39) };
    await assert.rejects(runner.sparse(input, { kind: 'full' }), /k must hold 40 values, got 39/);
  });

  it('rejects a prebuilt index of another shape', async () => {
    const index = buildRowIndex({ kind: 'full' }, { n: 11, causal: true });
    await assert.rejects(runner.sparseIndexed(randomInput(10, 4, 1), index), /index is for 11 x 11/);
  });
});

describe('GPU.js backends', () => {
  it('detects webasm and cpu here and explains why webgpu is or is not available', async () => {
    const statuses = await detectBackends();
    assert.deepEqual(
      statuses.map((s) => s.backend),
      ['webgpu', 'webasm', 'cpu'],
    );
    for (const status of statuses) assert.ok(status.detail.length > 0);
    assert.equal(statuses.find((s) => s.backend === 'cpu')?.available, true);
  });

  it('the cpu backend computes the same attention and says so', async () => {
    const runner = await createAttentionRunner({ backend: 'cpu' });
    try {
      const input = randomInput(40, 8, 3);
      const pattern: AttentionPattern = { kind: 'streaming', sink: 2, recent: 6 };
      const result = await runner.sparse(input, pattern);
      assert.equal(result.backend, 'cpu');
      assert.ok(
        maxAbsDiff(result.output, maskedAttention(input, indexMask(buildRowIndex(pattern, input)))) < TOLERANCE,
      );
    } finally {
      runner.destroy();
    }
  });
});
