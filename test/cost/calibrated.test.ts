import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  createCalibratedCostModel,
  featureValue,
  featuresOf,
  validateCalibration,
  type Calibration,
  type RawMeasurement,
} from '../../src/cost/calibrated.ts';
import { fitCalibration, spearman } from '../../src/cost/calibration-fit.ts';
import { ANALYTIC_COST_MODEL } from '../../src/cost/cost-model.ts';
import {
  listCalibrations,
  loadCalibration,
  machineKey,
  createCostModelResolver,
  resolveCostModel,
  CALIBRATIONS_DIR,
} from '../../src/cost/registry.ts';
import { headWork } from '../../src/cost/work.ts';
import { HplbError } from '../../src/errors.ts';
import type { HeadBudget } from '../../src/profiles/head-budget.ts';

/** A fake device: prefill time 50 + 0.001 cells + 0.002 pairs + 0.0001 pairs d; decode 5 + 0.01 keys + 0.0005 kvBytes (us). */
const TRUE_PREFILL = [50, 0.001, 0.002, 0.0001];
const TRUE_DECODE = [5, 0.01, 0.0005];

function fakeGrid(): RawMeasurement[] {
  const raw: RawMeasurement[] = [];
  const add = (
    pattern: RawMeasurement['pattern'],
    head: HeadBudget,
    seqLen: number,
    headDim: number,
    phase: 'prefill' | 'decode',
  ): void => {
    const work = headWork(head, { seqLen, phase }).estimate;
    const truth = phase === 'decode' ? TRUE_DECODE : TRUE_PREFILL;
    const us = featuresOf(pattern).reduce(
      (sum, f) =>
        sum +
        truth[
          (phase === 'decode' ? ['intercept', 'keys', 'kvBytes'] : ['intercept', 'cells', 'pairs', 'pairsD']).indexOf(f)
        ] *
          featureValue(f, work, { headDim, dtypeBytes: 4 }),
      0,
    );
    raw.push({
      pattern,
      seqLen,
      headDim,
      budget: JSON.stringify(head),
      work,
      medianUs: us,
      minUs: us,
      maxUs: us,
      wallMedianUs: us,
      load: 1,
      retimed: false,
    });
  };
  for (const seqLen of [256, 512, 1024]) {
    for (const headDim of [64, 128]) {
      for (const recent of [16, 64, 200])
        add('streaming', { kind: 'streaming', sink: 4, recent }, seqLen, headDim, 'prefill');
      add('full', { kind: 'full' }, seqLen, headDim, 'prefill');
    }
  }
  for (const seqLen of [4096, 8192, 16384])
    for (const headDim of [64, 128]) add('decode', { kind: 'full' }, seqLen, headDim, 'decode');
  return raw;
}

function fakeCalibration(name: string): Calibration {
  const raw = fakeGrid();
  const fit = fitCalibration(raw, (m) => m.seqLen === 512 && m.headDim === 64, 4);
  return {
    generatedBy: 'test',
    name,
    device: { name: 'fake', cpuModel: 'fake', cpus: 1, platform: 'linux', arch: 'x64' },
    backend: 'webasm',
    gpujs: '2.24.1',
    node: 'v20',
    date: '2026-01-01T00:00:00.000Z',
    method: 'fake',
    timing: {
      clock: 'cpu',
      warmup: 1,
      repeats: 3,
      statistic: 'median',
      retimeAboveLoad: 3,
      loadBefore: 1,
      loadAfter: 1,
    },
    dtypeBytes: 4,
    ...fit,
  };
}

describe('fitting a calibration', () => {
  it('recovers a per-pattern affine device exactly and scores the held-out heads', () => {
    const calibration = fakeCalibration('fake');
    const streaming = calibration.prefill.streaming!;
    assert.deepEqual(streaming.features, ['intercept', 'cells', 'pairs', 'pairsD']);
    TRUE_PREFILL.forEach((c, j) =>
      assert.ok(Math.abs(streaming.coefficients[j] - c) < 1e-6 * Math.max(1, c), `coefficient ${j}`),
    );
    assert.deepEqual(calibration.prefill.full!.features, ['intercept', 'pairs', 'pairsD']);
    TRUE_DECODE.forEach((c, j) =>
      assert.ok(Math.abs(calibration.decode!.coefficients[j] - c) < 1e-6 * Math.max(1, c), `decode ${j}`),
    );
    assert.equal(calibration.prefill.vertical_slash, undefined);
    assert.equal(calibration.holdout.points, 4);
    assert.ok(calibration.holdout.medianRelativeError < 1e-9);
    assert.ok(Math.abs(calibration.holdout.spearman - 1) < 1e-12);
  });

  it('Spearman correlation ranks with average ranks for ties', () => {
    assert.equal(spearman([1, 2, 3], [10, 20, 30]), 1);
    assert.equal(spearman([1, 2, 3], [3, 2, 1]), -1);
    assert.ok(Math.abs(spearman([1, 1, 2], [1, 2, 3]) - Math.sqrt(3) / 2) < 1e-12);
  });
});

describe('calibrated cost model', () => {
  const model = createCalibratedCostModel(fakeCalibration('fake-device'));
  it('is named for its calibration, costs in microseconds of its device and follows the pattern fit', () => {
    assert.equal(model.name, 'calibrated:fake-device');
    assert.equal(model.unit, 'us');
    assert.equal(model.device, 'fake, GPU.js webasm');
    const workload = { seqLen: 2048, phase: 'prefill' } as const;
    const work = headWork({ kind: 'streaming', sink: 4, recent: 300 }, workload).estimate;
    const expected = 50 + 0.001 * work.rows * work.maxRowKeys + 0.002 * work.pairs + 0.0001 * work.pairs * 128;
    assert.ok(
      Math.abs(model.headCost({ kind: 'streaming', sink: 4, recent: 300 }, workload) - expected) < 1e-6 * expected,
    );
  });

  it('costs decode from keys read and KV bytes, growing with the context', () => {
    const costs = [4096, 16384, 65536].map((seqLen) =>
      model.headCost({ kind: 'vertical_slash', vertical: 100, slash: 800 }, { seqLen, phase: 'decode' }),
    );
    assert.ok(costs[0] < costs[1] && costs[1] < costs[2]);
    const d64 = model.headCost({ kind: 'full' }, { seqLen: 8192, phase: 'decode' }, { headDim: 64, dtypeBytes: 2 });
    const d128 = model.headCost({ kind: 'full' }, { seqLen: 8192, phase: 'decode' }, { headDim: 128, dtypeBytes: 2 });
    assert.ok(Math.abs(d128 - d64 - TRUE_DECODE[2] * 8192 * 2 * 64 * 2) < 1e-6);
  });

  it("refuses a pattern the calibration did not time instead of borrowing another pattern's fit", () => {
    assert.throws(
      () => model.headCost({ kind: 'vertical_slash', vertical: 100, slash: 200 }, { seqLen: 2048, phase: 'prefill' }),
      (error: unknown) => {
        assert.ok(error instanceof HplbError);
        assert.equal(error.code, 'UNKNOWN_CALIBRATION');
        assert.match(error.message, /did not time prefill of vertical_slash heads/);
        return true;
      },
    );
  });

  const BROKEN: { name: string; change: (c: Calibration) => unknown; message: RegExp }[] = [
    {
      name: 'coefficients of the wrong length',
      change: (c) => ({ ...c, prefill: { full: { ...c.prefill.full, coefficients: [1] } } }),
      message: /one finite number per feature/,
    },
    {
      name: 'an unknown feature',
      change: (c) => ({ ...c, decode: { ...c.decode, features: ['intercept', 'moon'] } }),
      message: /decode.features/,
    },
    {
      name: 'an unknown pattern',
      change: (c) => ({ ...c, prefill: { ...c.prefill, diagonal: c.prefill.full } }),
      message: /prefill.diagonal is not a calibrated pattern/,
    },
    { name: 'a bad name', change: (c) => ({ ...c, name: '../etc' }), message: /not a valid calibration name/ },
    { name: 'no dtype', change: (c) => ({ ...c, dtypeBytes: undefined }), message: /dtypeBytes/ },
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
    const resolve = createCostModelResolver(dir);
    assert.equal(resolve('calibrated:other-device-cpu'), resolve('other-device-cpu'), 'one model, kept');
  });

  it('an unknown name is UNKNOWN_CALIBRATION listing the known names', () => {
    assert.throws(
      () => resolveCostModel('h100', dir),
      (error: unknown) => {
        assert.ok(error instanceof HplbError);
        assert.equal(error.code, 'UNKNOWN_CALIBRATION');
        assert.equal(error.status, 404);
        assert.match(
          error.message,
          /no calibration or roofline named "h100"; calibrations: other-device-cpu; rooflines: roofline:h100-sxm, .*; and "executed-work", "analytic"/,
        );
        return true;
      },
    );
  });

  it('a file that names itself differently is refused', () => {
    writeFileSync(join(dir, 'renamed.json'), JSON.stringify(fakeCalibration('original')));
    assert.throws(() => loadCalibration('renamed', dir), /names itself "original"/);
    rmSync(join(dir, 'renamed.json'));
  });

  it('the default is hardware-neutral executed work whatever calibrations are committed; analytic is opt-in', () => {
    const resolve = createCostModelResolver(dir);
    const byDefault = resolve();
    assert.equal(byDefault.name, 'executed-work');
    assert.equal(byDefault.unit, 'MAC');
    assert.equal(byDefault.device, null);
    assert.equal(resolve('executed-work'), byDefault);
    assert.equal(resolve('analytic'), ANALYTIC_COST_MODEL);
    assert.equal(resolveCostModel(undefined, dir).name, 'executed-work');
  });

  it('each resolver owns the models it keeps (and their work caches)', () => {
    const first = createCostModelResolver(dir);
    const second = createCostModelResolver(dir);
    assert.equal(first(), first());
    assert.notEqual(first(), second());
    assert.notEqual(
      resolveCostModel(undefined, dir),
      resolveCostModel(undefined, dir),
      'resolveCostModel keeps nothing',
    );
  });

  it('machine keys name Node major, architecture and cores', () => {
    assert.match(machineKey(), /^node\d+-[a-z0-9]+-\d+core$/);
  });

  it('every committed calibration loads, names its backend, meets the held-out targets (median error <= 10%, Spearman >= 0.95) and costs profile heads', () => {
    for (const name of listCalibrations(CALIBRATIONS_DIR)) {
      const calibration = loadCalibration(name);
      assert.ok(name.endsWith(`-${calibration.backend}`), `${name} names its backend ${calibration.backend}`);
      assert.ok(
        calibration.holdout.points > 0 && calibration.holdout.medianRelativeError <= 0.1,
        `${name}: held-out median error ${calibration.holdout.medianRelativeError}`,
      );
      assert.ok(calibration.holdout.spearman >= 0.95, `${name}: held-out Spearman ${calibration.holdout.spearman}`);
      const model = createCalibratedCostModel(calibration);
      for (const head of [
        { kind: 'vertical_slash', vertical: 1000, slash: 6096 },
        { kind: 'streaming', sink: 128, recent: 256 },
        { kind: 'full' },
      ] as const) {
        assert.ok(model.headCost(head, { seqLen: 4096, phase: 'prefill' }) > 0, `${name} ${head.kind}`);
      }
    }
  });
});
