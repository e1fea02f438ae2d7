import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createCalibratedCostModel, fitCalibration, validateCalibration, type Calibration, type RawMeasurement } from '../../src/cost/calibrated.ts';
import { ANALYTIC_COST_MODEL, attendedPairs } from '../../src/cost/cost-model.ts';
import {
  defaultCalibrationName, defaultCostModel, listCalibrations, loadCalibration, machineKey, resolveCostModel, CALIBRATIONS_DIR,
} from '../../src/cost/registry.ts';
import { HplbError } from '../../src/errors.ts';

/** A grid timed by a fake device whose time is exactly 50 + 0.002 * pairs + 0.001 * cells microseconds. */
function fakeGrid(): RawMeasurement[] {
  const raw: RawMeasurement[] = [];
  for (const seqLen of [256, 512, 1024]) {
    for (const budget of [16, 64, 256]) {
      const us = 50 + 0.002 * attendedPairs(budget, { seqLen, phase: 'prefill' }) + 0.001 * seqLen * budget;
      raw.push({ seqLen, budget, medianUs: us, minUs: us * 0.99, maxUs: us * 1.02, wallMedianUs: us * 1.1 });
    }
  }
  return raw;
}

function fakeCalibration(name: string): Calibration {
  const fit = fitCalibration(fakeGrid(), 'prefill', (i) => i % 4 === 1);
  return {
    generatedBy: 'test', name,
    device: { name: 'fake', cpuModel: 'fake', cpus: 1, platform: 'linux', arch: 'x64' },
    backend: 'webasm', gpujs: '2.24.1', node: 'v20', date: '2026-01-01T00:00:00.000Z', phase: 'prefill', headDim: 64,
    method: 'fake', timing: { clock: 'cpu', warmup: 1, repeats: 3, statistic: 'median' }, grid: { seqLens: [256, 512, 1024], budgets: [16, 64, 256] },
    ...fit,
  };
}

describe('fitting a calibration', () => {
  it('recovers an affine device exactly and scores the held-out points', () => {
    const fit = fitCalibration(fakeGrid(), 'prefill', (i) => i % 4 === 1);
    assert.deepEqual(fit.model.features, ['intercept', 'pairs', 'cells']);
    [50, 0.002, 0.001].forEach((c, j) => assert.ok(Math.abs(fit.model.coefficients[j] - c) < 1e-9 * Math.max(1, c)));
    assert.ok(fit.model.r2 > 0.999999);
    assert.equal(fit.model.fitPoints, 7);
    assert.equal(fit.holdout.points, 2);
    assert.ok(fit.holdout.maxRelativeError < 1e-9);
    assert.deepEqual(fit.measurements.filter((m) => m.heldOut).map((m) => [m.seqLen, m.budget]), [[256, 64], [512, 256]]);
    assert.ok(Math.abs(fit.measurements[0].spread - 0.03) < 1e-12);
    assert.equal(fit.measurements[0].cells, 256 * 16);
  });

  it('fits decode without a rows feature (one query row is the intercept again)', () => {
    const raw = [64, 256, 1024].map((budget) => ({ seqLen: 4096, budget, medianUs: 10 + budget, minUs: 10 + budget, maxUs: 10 + budget, wallMedianUs: 10 + budget }));
    const fit = fitCalibration(raw, 'decode', () => false);
    assert.deepEqual(fit.model.features, ['intercept', 'pairs']);
    assert.ok(Math.abs(fit.model.coefficients[1] - 1) < 1e-9);
  });
});

describe('calibrated cost model', () => {
  const model = createCalibratedCostModel(fakeCalibration('fake-device'));
  it('is named for its calibration, costs in microseconds and follows the fit', () => {
    assert.equal(model.name, 'calibrated:fake-device');
    assert.equal(model.unit, 'us');
    const workload = { seqLen: 2048, phase: 'prefill' } as const;
    const expected = 50 + 0.002 * attendedPairs(300, workload) + 0.001 * 2048 * 300;
    assert.ok(Math.abs(model.headCost({ kind: 'vertical_slash', vertical: 100, slash: 200 }, workload) - expected) < 1e-6);
    assert.ok(Math.abs(model.headCost({ kind: 'streaming', sink: 100, recent: 200 }, workload) - expected) < 1e-6);
  });

  it('never predicts a negative cost', () => {
    const calibration = fakeCalibration('negative');
    const negative = createCalibratedCostModel({ ...calibration, model: { ...calibration.model, coefficients: [-1e6, 0.002, 0.001] } });
    assert.equal(negative.headCost({ kind: 'streaming', sink: 0, recent: 1 }, { seqLen: 10, phase: 'decode' }), 0);
  });

  const BROKEN: { name: string; change: (c: Calibration) => unknown; message: RegExp }[] = [
    { name: 'coefficients of the wrong length', change: (c) => ({ ...c, model: { ...c.model, coefficients: [1] } }), message: /one finite number per feature/ },
    { name: 'an unknown feature', change: (c) => ({ ...c, model: { ...c.model, features: ['intercept', 'pairs', 'moon'] } }), message: /model.features/ },
    { name: 'a bad name', change: (c) => ({ ...c, name: '../etc' }), message: /not a valid calibration name/ },
    { name: 'no phase', change: (c) => ({ ...c, phase: undefined }), message: /phase/ },
  ];
  for (const { name, change, message } of BROKEN) {
    it(`rejects a calibration with ${name}`, () => {
      assert.throws(() => validateCalibration(change(fakeCalibration('x'))), message);
    });
  }
});

describe('cost model registry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hplb-calibrations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'other-device-cpu.json'), JSON.stringify(fakeCalibration('other-device-cpu')));
  writeFileSync(join(dir, 'notes.txt'), 'not a calibration');

  it('lists and loads calibrations by name', () => {
    assert.deepEqual(listCalibrations(dir), ['other-device-cpu']);
    assert.equal(loadCalibration('other-device-cpu', dir).backend, 'webasm');
    assert.equal(resolveCostModel('other-device-cpu', dir).name, 'calibrated:other-device-cpu');
    assert.equal(resolveCostModel('calibrated:other-device-cpu', dir).name, 'calibrated:other-device-cpu');
  });

  it('an unknown name is UNKNOWN_CALIBRATION listing the known names', () => {
    assert.throws(() => resolveCostModel('h100', dir), (error: unknown) => {
      assert.ok(error instanceof HplbError);
      assert.equal(error.code, 'UNKNOWN_CALIBRATION');
      assert.equal(error.status, 404);
      assert.match(error.message, /no calibration named "h100"; known: other-device-cpu \(and "analytic"\)/);
      return true;
    });
  });

  it('a file that names itself differently is refused', () => {
    writeFileSync(join(dir, 'renamed.json'), JSON.stringify(fakeCalibration('original')));
    assert.throws(() => loadCalibration('renamed', dir), /names itself "original"/);
    rmSync(join(dir, 'renamed.json'));
  });

  it('"analytic" is the analytic model; the default is analytic without any calibration', () => {
    const emptyDir = mkdtempSync(join(tmpdir(), 'hplb-calibrations-'));
    try {
      assert.equal(resolveCostModel('analytic', emptyDir), ANALYTIC_COST_MODEL);
      assert.equal(defaultCalibrationName(emptyDir), null);
      assert.equal(resolveCostModel(undefined, emptyDir), ANALYTIC_COST_MODEL);
    } finally {
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  it('the default is a committed calibration whatever machine runs it, preferring faster backends', () => {
    const machineDir = mkdtempSync(join(tmpdir(), 'hplb-calibrations-'));
    try {
      for (const [name, backend] of [['a-device-cpu', 'cpu'], ['other-machine-webasm', 'webasm']]) {
        writeFileSync(join(machineDir, `${name}.json`), JSON.stringify({ ...fakeCalibration(name), backend }));
      }
      assert.equal(defaultCalibrationName(machineDir), 'other-machine-webasm');
      assert.equal(defaultCostModel(machineDir).name, 'calibrated:other-machine-webasm');
    } finally {
      rmSync(machineDir, { recursive: true, force: true });
    }
  });

  it('machine keys name Node major, architecture and cores', () => {
    assert.match(machineKey(), /^node\d+-[a-z0-9]+-\d+core$/);
  });

  it('every committed calibration loads and gives positive costs', () => {
    for (const name of listCalibrations(CALIBRATIONS_DIR)) {
      const calibration = loadCalibration(name);
      const model = createCalibratedCostModel(calibration);
      assert.ok(model.headCost({ kind: 'streaming', sink: 0, recent: 1024 }, { seqLen: 4096, phase: calibration.phase }) > 0, name);
    }
  });

  it('every committed prefill calibration meets the fit targets (R^2 >= 0.98, holdout error <= 10%)', () => {
    for (const name of listCalibrations(CALIBRATIONS_DIR)) {
      const calibration = loadCalibration(name);
      if (calibration.phase !== 'prefill') continue;
      assert.ok(calibration.model.r2 >= 0.98, `${name}: R^2 ${calibration.model.r2}`);
      assert.ok(calibration.holdout.points > 0 && calibration.holdout.maxRelativeError <= 0.1, `${name}: holdout ${calibration.holdout.maxRelativeError}`);
      assert.ok(name.endsWith(`-${calibration.backend}`), `${name} names its backend ${calibration.backend}`);
    }
  });
});
