import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRowIndex, indexMask, type AttentionPattern } from '../../src/kernel/pattern.ts';
import { recoveryCurve, recoveryRatio } from '../../src/kernel/recovery.ts';
import type { ScoreInput } from '../../src/kernel/reference.ts';
import { selectBlockSparse } from '../../src/kernel/minference.ts';
import { exactLinesPattern, rankLines } from '../../src/kernel/selection.ts';
import { syntheticHead, SYNTHETIC_KINDS } from '../../src/kernel/synthetic.ts';

/** Brute force: full softmax matrix in float64, then the mean kept mass under the mask. */
function bruteRecovery(head: ScoreInput, mask: Uint8Array): number {
  const { n, d, q, k } = head;
  const rows = head.queries ?? n;
  const scale = head.scale ?? 1 / Math.sqrt(d);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const p = n - rows + r;
    const weights: number[] = [];
    for (let key = 0; key < n; key++) {
      if (head.causal && key > p) {
        weights.push(0);
        continue;
      }
      let dot = 0;
      for (let t = 0; t < d; t++) dot += q[r * d + t] * k[key * d + t];
      weights.push(Math.exp(dot * scale));
    }
    const total = weights.reduce((a, b) => a + b, 0);
    sum += weights.reduce((kept, w, key) => kept + (mask[r * n + key] ? w : 0), 0) / total;
  }
  return sum / rows;
}

const head = syntheticHead({ kind: 'local', n: 70, d: 40, seed: 3, window: 8 });

describe('recovery ratio', () => {
  const PATTERNS: AttentionPattern[] = [
    { kind: 'streaming', sink: 2, recent: 6 },
    { kind: 'exact_vertical_slash', columns: [0, 30], offsets: [0, 1, 2, 5] },
    { kind: 'vertical_slash', columns: [0, 30], offsets: [0, 1, 2, 5], blockSize: 8 },
    { kind: 'block_sparse', blockSize: 16, blocks: [[0], [0, 1], [2], [0, 3], [4]] },
    { kind: 'full' },
  ];
  for (const pattern of PATTERNS) {
    it(`equals the brute-force share of softmax mass (${pattern.kind})`, () => {
      const expected = bruteRecovery(head, indexMask(buildRowIndex(pattern, head)));
      assert.ok(Math.abs(recoveryRatio(head, pattern) - expected) < 1e-6);
    });
  }

  it('is 1 for the full pattern and for non-causal heads with every key', () => {
    assert.ok(Math.abs(recoveryRatio(head, { kind: 'full' }) - 1) < 1e-6);
    assert.ok(
      Math.abs(recoveryRatio({ ...head, causal: false }, { kind: 'streaming', sink: 70, recent: 0 }) - 1) < 1e-6,
    );
  });

  it('handles decode-shaped heads (queries < n)', () => {
    const decode = { ...head, queries: 5, q: head.q.slice(65 * 40) };
    const pattern: AttentionPattern = { kind: 'exact_vertical_slash', columns: [1, 2], offsets: [0, 3] };
    const expected = bruteRecovery(decode, indexMask(buildRowIndex(pattern, decode)));
    assert.ok(Math.abs(recoveryRatio(decode, pattern) - expected) < 1e-6);
  });
});

describe('recovery curve', () => {
  for (const [selector, unit, budgets] of [
    ['exact_lines', 'lines', [1, 2, 4, 8, 16, 32, 64, 139]],
    ['block_topk', 'blocks', [1, 2, 4, 9]],
  ] as const) {
    it(`${selector}: budgets in ${unit}; each point is the brute-force recovery of the selected pattern, non-decreasing, 1 at full budget`, () => {
      const curve = recoveryCurve(head, budgets, { selector, blockSize: 8, lastQueries: 16 });
      assert.equal(curve.selector, selector);
      assert.equal(curve.unit, unit);
      assert.equal(curve.seqLen, head.n);
      const choose =
        selector === 'exact_lines'
          ? (b: number) => exactLinesPattern(rankLines(head, 16), b)
          : (b: number) => selectBlockSparse(head, b, 8);
      curve.points.forEach((point, i) => {
        assert.equal(point.budget, budgets[i]);
        const expected = bruteRecovery(head, indexMask(buildRowIndex(choose(point.budget), head)));
        assert.ok(Math.abs(point.recovery - expected) < 1e-6, `budget ${point.budget}`);
        if (i > 0) assert.ok(point.recovery >= curve.points[i - 1].recovery - 1e-12);
        if (i > 0) assert.ok(point.pairs >= curve.points[i - 1].pairs);
      });
      assert.ok(Math.abs(curve.points[curve.points.length - 1].recovery - 1) < 1e-6);
    });
  }

  it('rejects budgets that are not strictly ascending positive integers', () => {
    assert.throws(() => recoveryCurve(head, [4, 4]), /strictly ascending/);
    assert.throws(() => recoveryCurve(head, [0, 4]), /strictly ascending positive integers/);
  });
});

describe('importance-based selection on synthetic heads', () => {
  const n = 256;
  it('a sink head keeps most of its mass with a handful of lines (its sink columns)', () => {
    const sink = syntheticHead({ kind: 'sink', n, seed: 1 });
    const pattern = exactLinesPattern(rankLines(sink, 64), 5);
    assert.deepEqual(pattern.columns, [0, 1, 2, 3]);
    assert.ok(recoveryRatio(sink, pattern) > 0.8);
  });

  it('a vertical-stripe head ranks its stripe columns first', () => {
    const vertical = syntheticHead({ kind: 'vertical', n, seed: 2, stripes: 6 });
    const pattern = exactLinesPattern(rankLines(vertical, 64), 7);
    for (const column of vertical.stripeColumns.filter((c) => c < n - 64))
      assert.ok(pattern.columns.includes(column), `stripe ${column}`);
  });

  it('a local head is served by diagonals; a diffuse head needs far more budget', () => {
    const local = recoveryCurve(syntheticHead({ kind: 'local', n, seed: 4 }), [32]).points[0].recovery;
    const diffuse = recoveryCurve(syntheticHead({ kind: 'diffuse', n, seed: 4 }), [32]).points[0].recovery;
    assert.ok(local > 0.8, `local ${local}`);
    assert.ok(diffuse < 0.5, `diffuse ${diffuse}`);
  });
});

describe('synthetic heads', () => {
  for (const kind of SYNTHETIC_KINDS) {
    it(`${kind}: labelled synthetic, deterministic per seed, sized n x d`, () => {
      const a = syntheticHead({ kind, n: 40, d: 32, seed: 9 });
      const b = syntheticHead({ kind, n: 40, d: 32, seed: 9 });
      const c = syntheticHead({ kind, n: 40, d: 32, seed: 10 });
      assert.equal(a.synthetic, true);
      assert.equal(a.kind, kind);
      assert.deepEqual(a.q, b.q);
      assert.notDeepEqual(a.k, c.k);
      assert.equal(a.q.length, 40 * 32);
      assert.equal(a.params.strength, 8);
    });
  }

  it('rejects a head dimension too small for its structure', () => {
    assert.throws(() => syntheticHead({ kind: 'local', n: 10, d: 8, frequencies: 16 }), /d must be an integer >= 32/);
  });
});
