import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCalibratedCostModel, validateCalibration } from '../../src/cost/calibrated.ts';
import { calibrationGrid, measureCalibration } from '../../src/kernel/calibrate.ts';

describe('calibration', () => {
  it('skips budgets above a sequence length and rejects bad grids', () => {
    assert.deepEqual(calibrationGrid([32, 64], [16, 48]), [{ seqLen: 32, budget: 16 }, { seqLen: 64, budget: 16 }, { seqLen: 64, budget: 48 }]);
    assert.throws(() => calibrationGrid([], [16]), /seqLens must be a non-empty list/);
    assert.throws(() => calibrationGrid([64], [0]), /budgets must be a non-empty list of positive integers/);
  });

  it('times a small grid on webasm and produces a valid, usable calibration', async () => {
    const ticks: number[] = [];
    const calibration = await measureCalibration({
      name: 'test-device', seqLens: [64, 128, 256], budgets: [8, 32, 64], phase: 'prefill', backend: 'webasm',
      headDim: 16, rounds: 2, warmup: 1, holdoutEvery: 3, now: () => new Date('2026-01-02T03:04:05Z'),
    }, (done) => ticks.push(done));
    validateCalibration(calibration);
    assert.equal(calibration.backend, 'webasm');
    assert.equal(calibration.timing.clock, 'cpu');
    assert.equal(calibration.date, '2026-01-02T03:04:05.000Z');
    assert.equal(calibration.measurements.length, 9);
    assert.deepEqual(ticks, Array.from({ length: 18 }, (_, i) => i + 1));
    assert.equal(calibration.holdout.points, 3);
    assert.equal(calibration.model.fitPoints, 6);
    assert.deepEqual(calibration.model.features, ['intercept', 'pairs', 'cells']);
    for (const m of calibration.measurements) {
      assert.ok(m.minUs <= m.medianUs && m.medianUs <= m.maxUs);
      assert.ok(m.wallMedianUs > 0);
    }
    const model = createCalibratedCostModel(calibration);
    assert.equal(model.name, 'calibrated:test-device');
    assert.ok(Number.isFinite(model.headCost({ kind: 'streaming', sink: 0, recent: 64 }, { seqLen: 256, phase: 'prefill' })));
  });
});
