import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCalibratedCostModel } from '../../src/cost/calibrated.ts';
import { ANALYTIC_COST_MODEL, createExecutedWorkCostModel } from '../../src/cost/cost-model.ts';
import { loadCalibration, resolveCostModel, ROOFLINE_NAMES } from '../../src/cost/registry.ts';
import {
  createRooflineCostModel,
  DEFAULT_TIME_COST_MODEL,
  DEVICES,
  decodeGroupKeys,
  rooflineDevice,
  rooflineMicroseconds,
} from '../../src/cost/roofline.ts';
import { DEFAULT_HEAD_SHAPE, kvProjectionMacs } from '../../src/cost/head-shape.ts';
import { executedMacs, headWork } from '../../src/cost/work.ts';
import { HplbError } from '../../src/errors.ts';
import type { HeadBudget } from '../../src/profiles/head-budget.ts';

const H100 = rooflineDevice(DEFAULT_TIME_COST_MODEL)!;
/** Equal up to floating-point rounding. */
const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.abs(expected), `${actual} vs ${expected}`);
const shape = DEFAULT_HEAD_SHAPE;
const vs: HeadBudget = { kind: 'vertical_slash', vertical: 1000, slash: 2000 };
const streaming: HeadBudget = { kind: 'streaming', sink: 128, recent: 256 };

describe('device rooflines', () => {
  it('name at least H100 SXM, H200, A100 80GB SXM, B200 and MI300X, each with its datasheet and its words', () => {
    assert.deepEqual(
      DEVICES.map((d) => d.id),
      ['h100-sxm', 'h200', 'a100-80gb-sxm', 'b200', 'mi300x'],
    );
    for (const device of DEVICES) {
      assert.match(device.source.url, /^https:\/\/www\.(nvidia|amd)\.com\//);
      assert.ok(device.source.words.length > 20, device.id);
      assert.ok(device.peakBf16Flops > 1e14 && device.memoryBytesPerSecond > 1e12, device.id);
    }
    assert.deepEqual(
      ROOFLINE_NAMES,
      DEVICES.map((d) => `roofline:${d.id}`),
    );
  });

  it('use dense throughput: half of the figures NVIDIA states with sparsity', () => {
    assert.equal(H100.peakBf16Flops, 989.5e12);
    assert.equal(rooflineDevice('roofline:h200')!.peakBf16Flops, 989.5e12);
    assert.equal(rooflineDevice('roofline:b200')!.peakBf16Flops, 2.25e15);
    assert.equal(rooflineDevice('roofline:a100-80gb-sxm')!.peakBf16Flops, 312e12);
    assert.equal(rooflineDevice('roofline:mi300x')!.peakBf16Flops, 1307.4e12);
    assert.equal(rooflineDevice('roofline:tpu'), undefined);
  });

  it('take the larger of compute time and memory time, in microseconds', () => {
    // 1e12 MACs on 989.5 TFLOP/s: 2.02 ms of compute; 1 MB at 3.35 TB/s is far less.
    close(rooflineMicroseconds(H100, 1e12, 1e6), (2e12 / 989.5e12) * 1e6);
    close(rooflineMicroseconds(H100, 1, 3.35e9), 1000);
  });
});

describe('the roofline cost model', () => {
  const model = createRooflineCostModel(H100);
  const prefill = { seqLen: 131072, phase: 'prefill' as const };
  const decode = { seqLen: 131072, phase: 'decode' as const };

  it('is a time of the named device, resolved by name', () => {
    assert.equal(model.name, 'roofline:h100-sxm');
    assert.equal(model.unit, 'us');
    assert.equal(model.time, true);
    assert.match(model.device!, /NVIDIA H100 SXM \(roofline: 989\.5 TFLOP\/s dense BF16, 3\.35 TB\/s\)/);
    assert.equal(resolveCostModel('roofline:mi300x').name, 'roofline:mi300x');
    assert.throws(() => resolveCostModel('roofline:tpu'), { code: 'UNKNOWN_CALIBRATION', message: /roofline:h200/ });
  });

  it('prices a prefill head by its executed MACs (compute-bound) and a decode group by its K/V read (memory-bound)', () => {
    const macs = executedMacs(headWork(vs, prefill).estimate, shape);
    close(model.headCost(vs, prefill, shape), (2 * macs * 1e6) / H100.peakBf16Flops);
    const read = 131072 * 2 * 128 * 2;
    close(model.groupCost([vs, vs, vs, vs], decode, shape, 4096), (read / 3.35e12) * 1e6);
    // A decode head computes one query row: far cheaper than reading its group's cache.
    assert.ok(model.headCost(vs, decode, shape) < model.groupCost([vs], decode, shape, 4096) / 100);
  });

  it('prices a prefill group by its K/V projection over the sequence', () => {
    const projection = kvProjectionMacs(131072, 4096, shape);
    close(model.groupCost([vs], prefill, shape, 4096), (2 * projection * 1e6) / H100.peakBf16Flops);
  });

  it('reads sink + recent keys for a streaming group in decode, every cached key otherwise', () => {
    assert.equal(decodeGroupKeys([streaming, streaming], 131072), 384);
    assert.equal(decodeGroupKeys([streaming, { kind: 'full' }], 131072), 131072);
    assert.equal(decodeGroupKeys([vs], 100), 100);
    assert.ok(model.groupCost([streaming], decode, shape, 4096) < model.groupCost([vs], decode, shape, 4096) / 100);
  });
});

describe('group costs of the other cost models', () => {
  const prefill = { seqLen: 4096, phase: 'prefill' as const };
  const decode = { seqLen: 4096, phase: 'decode' as const };
  const refusal = (rule: string) => (error: unknown) =>
    error instanceof HplbError &&
    error.code === 'INVALID_PROBLEM' &&
    error.pointer === '/costModel' &&
    error.rule === rule &&
    /roofline:h100-sxm/.test(error.message);

  it('executed work prices a prefill group by its projection MACs and is not a time', () => {
    const model = createExecutedWorkCostModel();
    assert.equal(model.time, false);
    assert.equal(model.groupCost([vs], prefill, shape, 4096), kvProjectionMacs(4096, 4096, shape));
    assert.throws(() => model.groupCost([vs], decode, shape, 4096), refusal('groupCost'));
  });

  it('analytic and calibrations price heads only, and say what to use instead', () => {
    assert.throws(() => ANALYTIC_COST_MODEL.groupCost([vs], prefill, shape, 4096), refusal('groupCost'));
    const calibrated = createCalibratedCostModel(loadCalibration('node20-x64-2core-webasm'));
    assert.throws(() => calibrated.groupCost([vs], prefill, shape, 4096), refusal('groupCost'));
  });
});
