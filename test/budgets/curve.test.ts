import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { minimalBudget, recoveryAt, validateCurve, type CurvePoint } from '../../src/budgets/curve.ts';
import { HplbError } from '../../src/errors.ts';

const curve = (pairs: [number, number][]): CurvePoint[] => pairs.map(([budget, recovery]) => ({ budget, recovery }));
const CURVE = curve([
  [100, 0.5],
  [200, 0.8],
  [400, 0.9],
  [800, 1],
]);

describe('smallest budget reaching a target', () => {
  const CASES: { target: number; linear: number; step: number }[] = [
    { target: 0.3, linear: 100, step: 100 }, // reached at the first point: no extrapolation below it
    { target: 0.5, linear: 100, step: 100 },
    { target: 0.65, linear: 150, step: 200 }, // halfway between 100 and 200
    { target: 0.8, linear: 200, step: 200 },
    { target: 0.85, linear: 300, step: 400 },
    { target: 0.95, linear: 600, step: 800 },
    { target: 0.901, linear: 404, step: 800 }, // 403.2 rounds up to a whole token
    { target: 1, linear: 800, step: 800 },
  ];
  for (const { target, linear, step } of CASES) {
    it(`target ${target}: linear ${linear}, step ${step}`, () => {
      assert.equal(minimalBudget(CURVE, target, 'linear'), linear);
      assert.equal(minimalBudget(CURVE, target, 'step'), step);
      assert.ok(recoveryAt(CURVE, linear, 'linear') >= target - 1e-12);
      assert.ok(recoveryAt(CURVE, step, 'step') >= target);
    });
  }

  it('reads the curve back with each rule', () => {
    assert.equal(recoveryAt(CURVE, 50, 'linear'), 0.5);
    assert.ok(Math.abs(recoveryAt(CURVE, 300, 'linear') - 0.85) < 1e-12);
    assert.equal(recoveryAt(CURVE, 300, 'step'), 0.8);
    assert.equal(recoveryAt(CURVE, 5000, 'step'), 1);
  });

  it('a curve that never reaches the target is an INVALID_CURVE error naming its best point', () => {
    assert.throws(
      () =>
        minimalBudget(
          curve([
            [10, 0.2],
            [20, 0.9],
          ]),
          0.95,
          'linear',
          '/curves/4',
        ),
      (error: unknown) => {
        assert.ok(error instanceof HplbError);
        assert.equal(error.code, 'INVALID_CURVE');
        assert.equal(error.pointer, '/curves/4/points');
        assert.match(error.message, /never reaches the target 0.95: at most 0.9 at budget 20/);
        return true;
      },
    );
  });
});

describe('curve validation', () => {
  const CASES: { name: string; points: CurvePoint[]; pointer: string; message: RegExp }[] = [
    { name: 'empty', points: [], pointer: '/points', message: /at least one point/ },
    {
      name: 'non-monotone',
      points: curve([
        [10, 0.5],
        [20, 0.7],
        [30, 0.6],
      ]),
      pointer: '/points/2/recovery',
      message: /not monotone, recovery falls from 0.7 at budget 20 to 0.6/,
    },
    {
      name: 'recovery above 1',
      points: curve([
        [10, 0.5],
        [20, 1.2],
      ]),
      pointer: '/points/1/recovery',
      message: /\[0, 1\]/,
    },
    { name: 'negative recovery', points: curve([[10, -0.1]]), pointer: '/points/0/recovery', message: /\[0, 1\]/ },
    { name: 'recovery NaN', points: curve([[10, Number.NaN]]), pointer: '/points/0/recovery', message: /\[0, 1\]/ },
    { name: 'zero budget', points: curve([[0, 0.5]]), pointer: '/points/0/budget', message: /positive integer/ },
    {
      name: 'fractional budget',
      points: curve([[1.5, 0.5]]),
      pointer: '/points/0/budget',
      message: /positive integer/,
    },
    {
      name: 'unsorted budgets',
      points: curve([
        [20, 0.5],
        [10, 0.6],
      ]),
      pointer: '/points/1/budget',
      message: /strictly ascending \(20 then 10\)/,
    },
    {
      name: 'duplicate budgets',
      points: curve([
        [20, 0.5],
        [20, 0.6],
      ]),
      pointer: '/points/1/budget',
      message: /strictly ascending/,
    },
  ];
  for (const { name, points, pointer, message } of CASES) {
    it(`${name} is an INVALID_CURVE error`, () => {
      assert.throws(
        () => validateCurve(points, '/curves/0'),
        (error: unknown) => {
          assert.ok(error instanceof HplbError);
          assert.equal(error.code, 'INVALID_CURVE');
          assert.equal(error.pointer, `/curves/0${pointer}`);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  it('tolerates a rounding wobble of 1e-7 but not of 1e-5', () => {
    validateCurve(
      curve([
        [10, 0.5],
        [20, 0.5 - 1e-7],
      ]),
    );
    assert.throws(
      () =>
        validateCurve(
          curve([
            [10, 0.5],
            [20, 0.5 - 1e-5],
          ]),
        ),
      /not monotone/,
    );
  });
});
