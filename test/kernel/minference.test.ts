/**
 * MInference's rules (microsoft/MInference commit fb56c917f618e8645f1cfc37535afd7424d78f0d) against
 * literal ports written here from the reference source, on fixed inputs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectBlockSparse, selectVerticalSlash } from '../../src/kernel/minference.ts';
import { buildRowIndex } from '../../src/kernel/pattern.ts';
import { rowScores } from '../../src/kernel/reference.ts';
import { syntheticHead, SYNTHETIC_KINDS } from '../../src/kernel/synthetic.ts';
import { effectiveSizes } from '../../src/cost/minference-sizes.ts';
import { convertVerticalSlashIndexes } from '../../src/kernel/vertical-slash-index.ts';

/** torch.topk(x, k).indices as a set (ties do not occur on these random inputs except at +inf). */
const topkSet = (x: number[], k: number): Set<number> =>
  new Set(
    x
      .map((v, i) => ({ v, i }))
      .sort((a, b) => b.v - a.v || a.i - b.i)
      .slice(0, k)
      .map((e) => e.i),
  );

/**
 * minference_forward.py lines 381-394 (vertical_and_slash_kernel), with the 30 forced diagonals of
 * lines 243 and 432, written step by step: qk of the last 64 rows with LAST_Q_MASK, softmax, column
 * sums with [:30] = inf, sum_all_diagonal_matrix (lines 110-116: pad, as_strided, sum, [1:]) cut to
 * [:-last_q + 1] with [-30:] = inf, offsets = (q_len - 1) - topk indices.
 */
function referenceVerticalSlash(
  head: ReturnType<typeof syntheticHead>,
  verticalSize: number,
  slashSize: number,
): { columns: Set<number>; offsets: Set<number> } {
  const qLen = head.n;
  const vSize = Math.min(qLen, Math.max(verticalSize, 30)); // line 382
  const sSize = Math.min(qLen, Math.max(slashSize, 50));
  const lastQ = Math.min(64, qLen); // line 383
  const qk: number[][] = [];
  const scores = new Float64Array(qLen);
  for (let i = 0; i < lastQ; i++) {
    rowScores(head, qLen - lastQ + i, scores);
    // line 385: the last last_q keys masked with arange[i] >= arange[j]
    const row = Array.from(scores, (s, key) => (key >= qLen - lastQ && key - (qLen - lastQ) > i ? -Infinity : s));
    const max = Math.max(...row);
    const exp = row.map((s) => Math.exp(s - max));
    const total = exp.reduce((a, b) => a + b, 0);
    qk.push(exp.map((e) => e / total)); // line 386
  }
  const vertical = Array.from({ length: qLen }, (_, key) => qk.reduce((sum, row) => sum + row[key], 0)); // line 387
  for (let c = 0; c < 30; c++) vertical[c] = Infinity; // line 388
  // sum_all_diagonal_matrix: mat [n=lastQ, m=qLen], padded [n, 2n + m], strided[i][j] = padded[i][i + j], summed over i
  const n = lastQ;
  const m = qLen;
  const padded = (i: number, col: number): number => (col >= n && col < n + m ? qk[i][col - n] : 0);
  const sums = Array.from({ length: n + m }, (_, j) => qk.reduce((sum, _row, i) => sum + padded(i, i + j), 0)).slice(1);
  const slash = sums.slice(0, sums.length - lastQ + 1); // [..., :-last_q + 1]
  for (let t = slash.length - 30; t < slash.length; t++) slash[t] = Infinity; // lines 243, 432
  return { columns: topkSet(vertical, vSize), offsets: new Set([...topkSet(slash, sSize)].map((t) => qLen - 1 - t)) }; // lines 389, 394
}

/** convert_vertical_slash_indexes_kernel (csrc/vertical_slash_index.cu lines 27-99) for one query block, line by line. */
function referenceConvert(
  v: number[],
  sDesc: number[],
  startM: number,
  blockM: number,
): { blocks: number[]; columns: number[] } {
  const blocks: number[] = [];
  const columns: number[] = [];
  const endM = startM + blockM;
  let s = 0;
  let vi = 0;
  let vIdx = v[vi++];
  let sIdx = sDesc[s++];
  while (sIdx >= endM) sIdx = sDesc[s++];
  sIdx = Math.max(endM - sIdx, blockM);
  let rangeStart = sIdx - blockM;
  let rangeEnd = sIdx;
  const save = (a: number, b: number): void => {
    for (let idx = a; idx < b; idx += blockM) blocks.push(idx);
  };
  for (;;) {
    if (vIdx < rangeEnd) {
      if (vIdx < rangeStart) columns.push(vIdx);
      vIdx = vi < v.length ? v[vi++] : endM + blockM;
    } else {
      if (s < sDesc.length) sIdx = Math.max(endM - sDesc[s++], blockM);
      else {
        save(rangeStart, rangeEnd);
        break;
      }
      if (sIdx > rangeEnd + blockM) {
        save(rangeStart, rangeEnd);
        rangeStart = sIdx - blockM;
        rangeEnd = sIdx;
      } else if (sIdx > rangeEnd) rangeEnd += blockM;
    }
  }
  return { blocks, columns };
}

describe('MInference vertical_and_slash selection', () => {
  for (const kind of SYNTHETIC_KINDS) {
    it(`${kind} head, n = 200: the same columns and diagonals as the reference rules`, () => {
      const head = syntheticHead({ kind, n: 200, d: 32, seed: 5 });
      for (const [vertical, slash] of [
        [10, 20],
        [40, 70],
        [120, 150],
      ]) {
        const pattern = selectVerticalSlash(head, { vertical, slash });
        const reference = referenceVerticalSlash(head, vertical, slash);
        assert.deepEqual(new Set(pattern.columns), reference.columns, `${kind} columns at ${vertical}`);
        assert.deepEqual(new Set(pattern.offsets), reference.offsets, `${kind} offsets at ${slash}`);
        const sizes = effectiveSizes({ vertical, slash }, 200);
        assert.equal(pattern.columns.length, sizes.vertical);
        assert.equal(pattern.offsets.length, sizes.slash);
        for (let i = 0; i < 30; i++)
          assert.ok(pattern.columns.includes(i) && pattern.offsets.includes(i), `forced column and diagonal ${i}`);
      }
    });
  }

  it('raises sizes to at least 30 columns and 50 diagonals, and caps them at n (line 382)', () => {
    assert.deepEqual(effectiveSizes({ vertical: 0, slash: 1 }, 1000), { vertical: 30, slash: 50 });
    assert.deepEqual(effectiveSizes({ vertical: 5000, slash: 6000 }, 1000), { vertical: 1000, slash: 1000 });
  });
});

describe('convert_vertical_slash_indexes', () => {
  it('builds the worked example: ranges around diagonals, merged neighbours, columns left of them', () => {
    // Hand-run of vertical_slash_index.cu lines 61-95 for n = 256, blocks of 64.
    const index = convertVerticalSlashIndexes(256, [0, 5, 70, 150], [0, 1, 2, 100, 130]);
    assert.deepEqual(
      index.map((b) => b.blockOffsets),
      [[0], [0, 64], [0, 64, 128], [62, 126, 190, 254]],
    );
    assert.deepEqual(
      index.map((b) => b.columns),
      [[], [], [], [0, 5]],
    );
  });

  it('matches a line-by-line port on random selections', () => {
    let seed = 17;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let trial = 0; trial < 40; trial++) {
      const n = 64 + Math.floor(next() * 400);
      const pick = (count: number, forced: number[]): number[] =>
        [...new Set([...forced, ...Array.from({ length: count }, () => Math.floor(next() * n))])].sort((a, b) => a - b);
      const columns = pick(Math.floor(next() * 40), []);
      const offsets = pick(Math.floor(next() * 60), [0]);
      const ours = convertVerticalSlashIndexes(n, columns, offsets);
      ours.forEach((block, qb) => {
        const reference = referenceConvert(columns, [...offsets].reverse(), qb * 64, 64);
        assert.deepEqual(
          { blocks: block.blockOffsets, columns: block.columns },
          reference,
          `trial ${trial} block ${qb}`,
        );
      });
    }
  });

  it('executes a superset of the exact lines: every key p - o and every column <= p is attended', () => {
    const pattern = {
      kind: 'vertical_slash' as const,
      columns: [0, 3, 40, 77, 130],
      offsets: [0, 1, 9, 65, 140],
      blockSize: 16,
    };
    const index = buildRowIndex(pattern, { n: 180, causal: true });
    for (let p = 0; p < 180; p++) {
      const keys = new Set(Array.from(index.keys.subarray(p * index.width, p * index.width + index.rowLength[p])));
      for (const o of pattern.offsets) if (p - o >= 0) assert.ok(keys.has(p - o), `row ${p} diagonal ${o}`);
      for (const c of pattern.columns)
        if (c <= p && c < Math.floor(p / 16) * 16) assert.ok(keys.has(c), `row ${p} column ${c}`);
      for (const key of keys) assert.ok(key <= p, 'causal');
    }
  });

  it('refuses offsets without the main diagonal', () => {
    assert.throws(() => convertVerticalSlashIndexes(128, [0], [5]), /must hold 0/);
  });
});

describe('MInference block picker', () => {
  /** _build_block_index (block_sparse_flash_attention.py lines 151-166) and the kernel's block_count (line 81). */
  function referenceBlocks(head: ReturnType<typeof syntheticHead>, topK: number): number[][] {
    const { n, d } = head;
    const pad = 64 - (n & 63); // line 178: a whole block when n is a multiple of 64
    const padded = n + pad;
    const pool = (x: Float32Array, b: number): number[] =>
      Array.from({ length: d }, (_, t) => {
        let sum = 0;
        for (let i = b * 64; i < b * 64 + 64; i++) sum += i < n ? x[i * d + t] : 0;
        return sum / 64;
      });
    const count = padded / 64;
    const k = Math.min(topK, Math.floor(padded / 64)); // line 165
    const out: number[][] = [];
    for (let qb = 0; qb * 64 < n; qb++) {
      const q = pool(head.q, qb);
      const scores = Array.from({ length: count }, (_, kb) =>
        kb <= qb ? pool(head.k, kb).reduce((s, x, t) => s + x * q[t], 0) : -Infinity,
      ); // line 164
      const chosen = [...topkSet(scores, k)].sort((a, b) => a - b); // line 166
      out.push(chosen.slice(0, Math.min(qb + 1, k))); // line 81
    }
    return out;
  }

  for (const kind of ['sink', 'vertical', 'diffuse'] as const) {
    it(`${kind} head, n = 700: the same key blocks per query block`, () => {
      const head = syntheticHead({ kind, n: 700, d: 16, seed: 9 });
      for (const topK of [1, 3, 20])
        assert.deepEqual(selectBlockSparse(head, topK).blocks, referenceBlocks(head, topK), `top ${topK}`);
    });
  }
});
