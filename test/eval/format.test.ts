import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseScale, fixed, percent, scaled, times } from '../../src/eval/format.ts';
import { niceRange, niceStep, stepDigits } from '../../public/plan-math.js';
import { escapeXml } from '../../src/eval/svg-base.ts';

describe('report number formatting', () => {
  it('scales times by the largest power of 1000 not above the smallest', () => {
    assert.deepEqual(chooseScale([6.5e10, 4.6e11], 'token-pairs'), { factor: 1e9, label: '1e9 token-pairs' });
    assert.deepEqual(chooseScale([950, 12000], 'us'), { factor: 1, label: 'us' });
    assert.deepEqual(chooseScale([], 'us'), { factor: 1, label: 'us' });
    assert.deepEqual(chooseScale([2.5e6, 9e6], 'us'), { factor: 1e6, label: 's' }, 'microseconds get named multiples');
    assert.deepEqual(chooseScale([4200], 'us'), { factor: 1e3, label: 'ms' });
  });

  const cases: [number, string][] = [
    [1234.56e9, '1235'],
    [463.33e9, '463.3'],
    [73.987e9, '73.99'],
    [6.5301e9, '6.530'],
  ];
  for (const [value, expected] of cases) {
    it(`writes ${value} as ${expected} (about four significant digits, never an exponent)`, () => {
      assert.equal(scaled(value, { factor: 1e9, label: '' }), expected);
    });
  }

  it('never writes a negative zero', () => {
    assert.equal(fixed(-0.0001, 2), '0.00');
    assert.equal(fixed(-0.5, 1), '-0.5');
  });

  it('writes ratios and shares with fixed digits', () => {
    assert.equal(times(1.45), '1.450x');
    assert.equal(percent(0.39312), '39.3%');
  });
});

describe('svg helpers', () => {
  const steps: [number, number][] = [
    [3.6, 1],
    [2.49, 0.5],
    [130, 50],
    [0.07, 0.02],
  ];
  for (const [max, step] of steps) {
    it(`picks tick step ${step} for a maximum of ${max}`, () => {
      assert.ok(Math.abs(niceStep(max) - step) < 1e-12);
    });
  }

  it('shows every tick of a nice step with just enough decimals', () => {
    assert.deepEqual([5, 1, 0.5, 0.02, 20].map(stepDigits), [0, 0, 1, 2, 0]);
  });

  it('spans an axis over the values on multiples of its step, at least as wide as asked', () => {
    const cases: [number[], number, number][] = [
      [[1, 1.3, 2.7], 0.5, 6],
      [[1, 1.04], 0.1, 5],
      [[1.25], 0.5, 5],
    ];
    for (const [values, span, ticks] of cases) {
      const { lo, hi, step } = niceRange(values, span, ticks);
      assert.ok(lo <= Math.min(...values) && hi >= Math.max(...values), `${values} in [${lo}, ${hi}]`);
      assert.ok(hi - lo >= span, `[${lo}, ${hi}] at least ${span} wide`);
      for (const end of [lo, hi]) assert.ok(Math.abs(end / step - Math.round(end / step)) < 1e-9, `${end} on a step`);
    }
  });

  it('escapes markup in text', () => {
    assert.equal(escapeXml('a < b & "c" > d'), 'a &lt; b &amp; &quot;c&quot; &gt; d');
  });
});
