import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HplbError } from '../../src/errors.ts';
import {
  buildRowIndex,
  indexMask,
  INDEX_SENTINEL,
  type AttentionPattern,
  type AttentionShape,
} from '../../src/kernel/pattern.ts';
import { convertVerticalSlashIndexes } from '../../src/kernel/vertical-slash-index.ts';

/** Independent statement of each pattern: does the query at position p select key? */
function selects(pattern: AttentionPattern, causal: boolean, p: number, key: number): boolean {
  if (causal && key > p) return false;
  if (key === p) return true;
  switch (pattern.kind) {
    case 'full':
      return true;
    case 'streaming':
      return key < pattern.sink || (key <= p && key > p - pattern.recent);
    case 'exact_vertical_slash':
      return pattern.columns.includes(key) || pattern.offsets.includes(p - key);
    case 'vertical_slash': {
      // the key blocks and gathered columns MInference's index conversion gives p's query block
      const size = pattern.blockSize ?? 64;
      const block = convertVerticalSlashIndexes(n, pattern.columns, pattern.offsets, size, size)[Math.floor(p / size)];
      return block.columns.includes(key) || block.blockOffsets.some((start) => key >= start && key < start + size);
    }
    case 'block_sparse':
      return pattern.blocks[Math.floor(p / pattern.blockSize)].includes(Math.floor(key / pattern.blockSize));
  }
}

function bruteMask(pattern: AttentionPattern, shape: AttentionShape): Uint8Array {
  const rows = shape.queries ?? shape.n;
  const mask = new Uint8Array(rows * shape.n);
  for (let r = 0; r < rows; r++) {
    for (let key = 0; key < shape.n; key++)
      mask[r * shape.n + key] = selects(pattern, shape.causal, shape.n - rows + r, key) ? 1 : 0;
  }
  return mask;
}

const n = 23;
const PATTERNS: { name: string; pattern: AttentionPattern }[] = [
  { name: 'full', pattern: { kind: 'full' } },
  { name: 'streaming', pattern: { kind: 'streaming', sink: 3, recent: 5 } },
  { name: 'streaming without window', pattern: { kind: 'streaming', sink: 2, recent: 0 } },
  {
    name: 'exact_vertical_slash',
    pattern: { kind: 'exact_vertical_slash', columns: [0, 4, 11, 22], offsets: [0, 1, 6, 20] },
  },
  {
    name: 'exact_vertical_slash without diagonal',
    pattern: { kind: 'exact_vertical_slash', columns: [7], offsets: [3] },
  },
  {
    name: 'vertical_slash, blocks of 4',
    pattern: { kind: 'vertical_slash', columns: [0, 4, 11, 22], offsets: [0, 1, 6, 20], blockSize: 4 },
  },
  { name: 'vertical_slash, blocks of 64', pattern: { kind: 'vertical_slash', columns: [2, 9], offsets: [0, 5] } },
  { name: 'block_sparse', pattern: { kind: 'block_sparse', blockSize: 5, blocks: [[0], [0], [1, 2], [0, 3], [2, 4]] } },
  { name: 'block_sparse with empty lists', pattern: { kind: 'block_sparse', blockSize: 8, blocks: [[], [0], []] } },
];

describe('row index of a pattern', () => {
  for (const { name, pattern } of PATTERNS) {
    for (const shape of [
      { n, causal: true },
      { n, causal: false },
      { n, causal: true, queries: 4 },
      { n, causal: true, queries: 1 },
    ]) {
      it(`${name} matches the pattern's definition (causal=${shape.causal}, queries=${shape.queries ?? n})`, () => {
        const index = buildRowIndex(pattern, shape);
        assert.deepEqual(indexMask(index), bruteMask(pattern, shape));
      });
    }
  }

  it('lists keys ascending, pads with the sentinel and always holds the diagonal', () => {
    const index = buildRowIndex(
      { kind: 'exact_vertical_slash', columns: [2, 9], offsets: [4] },
      { n: 12, causal: true },
    );
    let pairs = 0;
    for (let r = 0; r < index.rows; r++) {
      const row = Array.from(index.keys.subarray(r * index.width, (r + 1) * index.width));
      const length = index.rowLength[r];
      pairs += length;
      assert.ok(row.slice(0, length).includes(r), `row ${r} holds its diagonal`);
      assert.deepEqual(
        row.slice(0, length),
        [...row.slice(0, length)].sort((a, b) => a - b),
      );
      assert.ok(row.slice(length).every((key) => key === INDEX_SENTINEL));
    }
    assert.equal(index.pairs, pairs);
    assert.equal(index.width, Math.max(...index.rowLength));
  });

  it('a streaming budget of b tokens gives rows of min(p + 1, b) keys', () => {
    const index = buildRowIndex({ kind: 'streaming', sink: 4, recent: 12 }, { n: 40, causal: true });
    index.rowLength.forEach((length, p) => assert.equal(length, Math.min(p + 1, 16)));
  });
});

describe('invalid patterns are clear errors', () => {
  const CASES: { name: string; pattern: AttentionPattern; pointer: string; message: RegExp }[] = [
    {
      name: 'offset out of range',
      pattern: { kind: 'vertical_slash', columns: [], offsets: [0, 23] },
      pointer: '/offsets/1',
      message: /offset 23 .* out of range \[0, 23\)/,
    },
    {
      name: 'negative offset',
      pattern: { kind: 'vertical_slash', columns: [], offsets: [-1] },
      pointer: '/offsets/0',
      message: /out of range/,
    },
    {
      name: 'unsorted columns',
      pattern: { kind: 'vertical_slash', columns: [5, 2], offsets: [0] },
      pointer: '/columns/1',
      message: /strictly ascending: unsorted/,
    },
    {
      name: 'duplicate columns',
      pattern: { kind: 'vertical_slash', columns: [2, 2], offsets: [0] },
      pointer: '/columns/1',
      message: /duplicate/,
    },
    {
      name: 'fractional column',
      pattern: { kind: 'exact_vertical_slash', columns: [1.5], offsets: [] },
      pointer: '/columns/0',
      message: /out of range/,
    },
    {
      name: 'vertical_slash without the main diagonal',
      pattern: { kind: 'vertical_slash', columns: [1], offsets: [2, 5] },
      pointer: '/offsets',
      message: /must hold 0/,
    },
    {
      name: 'vertical_slash with a zero block size',
      pattern: { kind: 'vertical_slash', columns: [], offsets: [0], blockSize: 0 },
      pointer: '/blockSize',
      message: /positive integer/,
    },
    {
      name: 'key block beyond n',
      pattern: { kind: 'block_sparse', blockSize: 8, blocks: [[0], [0, 3], [0]] },
      pointer: '/blocks/1/1',
      message: /key block 3 .* out of range \[0, 3\)/,
    },
    {
      name: 'too many block lists',
      pattern: { kind: 'block_sparse', blockSize: 8, blocks: [[0], [0], [0], [0]] },
      pointer: '/blocks',
      message: /one list per query block: 3/,
    },
    {
      name: 'zero block size',
      pattern: { kind: 'block_sparse', blockSize: 0, blocks: [] },
      pointer: '/blockSize',
      message: /positive integer/,
    },
    {
      name: 'negative sink',
      pattern: { kind: 'streaming', sink: -1, recent: 4 },
      pointer: '/sink',
      message: /non-negative integer/,
    },
    {
      name: 'unknown kind',
      pattern: { kind: 'diagonal' } as unknown as AttentionPattern,
      pointer: '/kind',
      message: /unknown pattern kind/,
    },
  ];
  for (const { name, pattern, pointer, message } of CASES) {
    it(name, () => {
      assert.throws(
        () => buildRowIndex(pattern, { n, causal: true }),
        (error: unknown) => {
          assert.ok(error instanceof HplbError);
          assert.equal(error.code, 'INVALID_PROBLEM');
          assert.equal(error.pointer, pointer);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  it('rejects a shape with more queries than keys', () => {
    assert.throws(
      () => buildRowIndex({ kind: 'full' }, { n: 4, queries: 5, causal: true }),
      /queries must be an integer in \[1, n=4\]/,
    );
  });
});
