/**
 * The decode cost model against the committed decode calibration: its predictions are compared with
 * the decode steps timed at n = 4k..64k that the calibration file holds (committed data, not timed
 * here), and the fit's shape is checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCalibratedCostModel, predictWork } from '../../src/cost/calibrated.ts';
import { createExecutedWorkCostModel } from '../../src/cost/cost-model.ts';
import { listCalibrations, loadCalibration } from '../../src/cost/registry.ts';
import { headWork } from '../../src/cost/work.ts';

const decode = (seqLen: number) => ({ seqLen, phase: 'decode' as const });

describe('decode cost', () => {
  for (const name of listCalibrations()) {
    const calibration = loadCalibration(name);
    if (!calibration.decode) continue;
    const fit = calibration.decode;
    const steps = calibration.measurements.filter((m) => m.pattern === 'decode');

    it(`${name}: covers decode steps from 4k to 64k keys at d = 64 and 128`, () => {
      const lengths = steps.map((m) => m.seqLen);
      assert.ok(Math.min(...lengths) <= 4096 && Math.max(...lengths) >= 65536, `lengths ${lengths}`);
      assert.deepEqual(
        [...new Set(steps.map((m) => m.headDim))].sort((a, b) => a - b),
        [64, 128],
      );
    });

    it(`${name}: predicts the committed decode steps within 15% (median) and every one within 30%`, () => {
      const errors = steps.map(
        (m) =>
          Math.abs(predictWork(fit, m.work, { headDim: m.headDim, dtypeBytes: calibration.dtypeBytes }) - m.medianUs) /
          m.medianUs,
      );
      const sorted = [...errors].sort((a, b) => a - b);
      assert.ok(sorted[sorted.length >> 1] <= 0.15, `median ${sorted[sorted.length >> 1]}`);
      assert.ok(Math.max(...errors) <= 0.3, `worst ${Math.max(...errors)}`);
    });

    it(`${name}: decode cost grows with the context and the head dimension, unlike a per-row prefill extrapolation`, () => {
      const model = createCalibratedCostModel(calibration);
      const head = { kind: 'vertical_slash', vertical: 1000, slash: 6096 } as const;
      const costs = [4096, 8192, 16384, 32768, 65536].map((n) =>
        model.headCost(head, decode(n), { headDim: 128, dtypeBytes: 4 }),
      );
      costs.slice(1).forEach((c, i) => assert.ok(c > costs[i], `n step ${i}`));
      assert.ok(
        model.headCost(head, decode(16384), { headDim: 128, dtypeBytes: 4 }) >
          model.headCost(head, decode(16384), { headDim: 64, dtypeBytes: 4 }),
      );
    });
  }

  it('the default counts keys read: n for MInference heads (dense decode), the window for streaming heads', () => {
    const model = createExecutedWorkCostModel();
    const shape = { headDim: 128, dtypeBytes: 2 };
    assert.equal(
      model.headCost({ kind: 'vertical_slash', vertical: 1000, slash: 6096 }, decode(65536), shape),
      2 * 128 * 65536,
    );
    assert.equal(model.headCost({ kind: 'streaming', sink: 128, recent: 256 }, decode(65536), shape), 2 * 128 * 384);
    assert.equal(headWork({ kind: 'full' }, decode(4096)).estimate.keysRead, 4096);
  });
});
