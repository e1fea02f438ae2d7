import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCalibratedCostModel, validateCalibration } from '../../src/cost/calibrated.ts';
import { calibrationPoints, measureCalibration, type CalibrationGrid } from '../../src/kernel/calibrate.ts';

const TINY: CalibrationGrid = {
  seqLens: [64, 128, 192],
  headDims: [32, 48],
  verticalSlash: {
    fit: [
      [30, 50],
      [40, 60],
      [60, 40],
      [35, 90],
    ],
    holdout: [[50, 70]],
  },
  streaming: { fit: [8, 16, 32, 48], holdout: [24] },
  blockSparse: { fit: [1, 2, 4], holdout: [3] },
  exactLines: { fit: [4, 8, 16], holdout: [12] },
  fullHoldoutSeqLens: [128],
  decodeSeqLens: { fit: [256, 512, 1024], holdout: [768] },
};

describe('calibration', () => {
  it('lists every pattern at every length and head dimension, holding out sizes never fitted', () => {
    const points = calibrationPoints(TINY);
    const count = (pattern: string, heldOut: boolean) =>
      points.filter((p) => p.pattern === pattern && p.heldOut === heldOut).length;
    assert.equal(count('vertical_slash', false), 4 * 6);
    assert.equal(count('vertical_slash', true), 6);
    assert.equal(count('streaming', false), 4 * 6);
    assert.equal(count('full', true), 2);
    assert.equal(count('decode', false), 3 * 2);
    assert.throws(() => calibrationPoints({ ...TINY, seqLens: [] }), /seqLens must be a non-empty list/);
  });

  it('times a tiny grid on webasm, re-times a point taken under load and produces a usable calibration', async () => {
    let loadCalls = 0;
    // the first sample (second call: the first is the load before the run) is taken under load
    const load = () => (++loadCalls === 2 ? 10 : 1);
    const ticks: [number, number][] = [];
    const calibration = await measureCalibration(
      {
        name: 'test-device',
        grid: TINY,
        backend: 'webasm',
        rounds: 1,
        warmup: 0,
        retimeAboveLoad: 5,
        load,
        now: () => new Date('2026-01-02T03:04:05Z'),
      },
      (done, total) => ticks.push([done, total]),
    );
    validateCalibration(calibration);
    const points = calibrationPoints(TINY).length;
    assert.equal(calibration.backend, 'webasm');
    assert.equal(calibration.timing.clock, 'cpu');
    assert.equal(calibration.date, '2026-01-02T03:04:05.000Z');
    assert.equal(calibration.measurements.length, points);
    assert.deepEqual(ticks.at(-1), [points + 1, points + 1]);
    assert.equal(calibration.measurements.filter((m) => m.retimed).length, 1);
    for (const pattern of ['vertical_slash', 'streaming', 'full', 'block_sparse', 'exact_vertical_slash'] as const) {
      assert.ok(calibration.prefill[pattern], pattern);
      assert.ok(calibration.prefill[pattern]!.holdout.points > 0, `${pattern} has held-out points`);
    }
    assert.ok(calibration.decode && calibration.decode.holdout.points === 2);
    assert.ok(calibration.holdout.points > 0 && calibration.holdout.spearman <= 1);
    for (const m of calibration.measurements)
      assert.ok(m.minUs <= m.medianUs && m.medianUs <= m.maxUs && m.wallMedianUs > 0);
    const model = createCalibratedCostModel(calibration);
    assert.equal(model.name, 'calibrated:test-device');
    assert.ok(
      Number.isFinite(
        model.headCost({ kind: 'vertical_slash', vertical: 40, slash: 60 }, { seqLen: 192, phase: 'prefill' }),
      ),
    );
  });
});
