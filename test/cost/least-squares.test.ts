import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leastSquares } from '../../src/cost/least-squares.ts';
import { createGaussian, createRandom } from '../../src/random.ts';

describe('least squares', () => {
  it('recovers exact coefficients of features spanning many orders of magnitude', () => {
    const design = [1e3, 5e4, 2e5, 1e6, 7e6, 3e7].map((pairs, i) => [1, pairs, 1024 * (i + 1)]);
    const truth = [120, 4.2e-4, 0.03];
    const observed = design.map((row) => row[0] * truth[0] + row[1] * truth[1] + row[2] * truth[2]);
    const fit = leastSquares(design, observed);
    fit.coefficients.forEach((c, j) =>
      assert.ok(Math.abs(c - truth[j]) <= 1e-9 * Math.abs(truth[j]) + 1e-9, `coefficient ${j}: ${c}`),
    );
    assert.ok(Math.abs(fit.r2 - 1) < 1e-12);
    fit.residuals.forEach((r) => assert.ok(Math.abs(r) < 1e-6));
  });

  it('matches the closed form of a straight-line fit on noisy data', () => {
    const gaussian = createGaussian(createRandom(11));
    const xs = Array.from({ length: 40 }, (_, i) => i);
    const ys = xs.map((x) => 3 + 2 * x + gaussian());
    const fit = leastSquares(
      xs.map((x) => [1, x]),
      ys,
    );
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    assert.ok(Math.abs(fit.coefficients[1] - slope) < 1e-10);
    assert.ok(Math.abs(fit.coefficients[0] - (my - slope * mx)) < 1e-9);
    const ssTot = ys.reduce((s, y) => s + (y - my) ** 2, 0);
    const ssRes = fit.residuals.reduce((s, r) => s + r * r, 0);
    assert.ok(Math.abs(fit.r2 - (1 - ssRes / ssTot)) < 1e-12);
    assert.ok(fit.r2 > 0.99);
  });

  it('weights 1 / y fit relative errors: a small point is no longer sacrificed to a large one', () => {
    const design = [
      [1, 1],
      [1, 2],
      [1, 1000],
    ];
    const observed = [2, 2.5, 1000];
    const plain = leastSquares(design, observed);
    const relative = leastSquares(
      design,
      observed,
      observed.map((y) => 1 / y),
    );
    const worst = (fit: typeof plain): number => Math.max(...fit.residuals.map((r, i) => Math.abs(r) / observed[i]));
    assert.ok(worst(relative) < worst(plain));
    assert.throws(() => leastSquares(design, observed, [1, 0, 1]), /weights must be one positive number per point/);
  });

  it('rejects dependent features, too few points and ragged designs', () => {
    assert.throws(
      () =>
        leastSquares(
          [
            [1, 2],
            [1, 2],
            [1, 2],
          ],
          [1, 2, 3],
        ),
      /linearly dependent/,
    );
    assert.throws(() => leastSquares([[1, 2, 3]], [1]), /at least 3 points/);
    assert.throws(() => leastSquares([[1, 2], [1]], [1, 2]), /design/);
  });
});
