/**
 * Roofline cost models: a piece of work on a named device takes
 *   time_us = max(2 x MACs / peak dense BF16 tensor FLOP/s, bytes / HBM bytes per second) x 1e6,
 * from the device's published datasheet figures (DEVICES, each with its source). The unit is "us"
 * for every phase, so prefill and decode costs add up in a workload mix.
 *
 * What each piece moves and computes (d = head dimension, b = bytes per K/V element, n = seqLen):
 * - a head in prefill: its executed MACs (work.ts) and its Q read and output written, 2 n d b;
 * - a head in decode: 2 d MACs per key it attends (one query row), 2 d b bytes (q and o);
 * - a stored KV group in prefill: its K and V projections over n tokens (kvProjectionMacs) and
 *   the K/V cache it writes, 2 n d b;
 * - a stored KV group in decode: one read of its K/V cache, 2 keys d b, with keys = every cached
 *   token for full and vertical_slash heads (MInference decodes densely) and sink + recent for a
 *   streaming group (DuoAttention), plus the one new token's projection.
 * Left out: the hidden states a GPU reads once for all its projections, and the groups' W_k / W_v
 * weights. Pure.
 */
import { HplbError } from '../errors.ts';
import type { HeadBudget } from '../profiles/head-budget.ts';
import { memoiseHeadCost, type CostModel } from './cost-model.ts';
import { decodeKeys, executedMacs, headWork } from './work.ts';
import { kvBytes, kvProjectionMacs, type HeadShape } from './head-shape.ts';
import type { Workload } from './workload.ts';

/** A device's published peak figures and where they were read. */
export interface Device {
  /** Lower-case id used in cost model names: roofline:<id>. */
  readonly id: string;
  readonly name: string;
  /** Peak dense (not 2:4 sparse) BF16 tensor throughput, FLOP/s. */
  readonly peakBf16Flops: number;
  /** Peak memory (HBM) bandwidth, bytes/s. */
  readonly memoryBytesPerSecond: number;
  /** The datasheet the figures come from, and its words for them. */
  readonly source: { readonly url: string; readonly words: string };
}

/**
 * NVIDIA states its Hopper and Blackwell BF16 figures with 2:4 structured sparsity ("* With
 * sparsity"); dense throughput is half of that, the figure used here. AMD states the dense figure.
 */
export const DEVICES: readonly Device[] = Object.freeze([
  {
    id: 'h100-sxm',
    name: 'NVIDIA H100 SXM',
    peakBf16Flops: 1979e12 / 2,
    memoryBytesPerSecond: 3.35e12,
    source: {
      url: 'https://www.nvidia.com/en-us/data-center/h100/',
      words: 'H100 SXM: "BF16 Tensor Core 1,979 teraFLOPS*" ("* With sparsity"), "GPU Memory Bandwidth 3.35TB/s"',
    },
  },
  {
    id: 'h200',
    name: 'NVIDIA H200 SXM',
    peakBf16Flops: 1979e12 / 2,
    memoryBytesPerSecond: 4.8e12,
    source: {
      url: 'https://www.nvidia.com/en-us/data-center/h200/',
      words: 'H200 SXM: "BFLOAT16 Tensor Core 1,979 TFLOPS" (with sparsity), "GPU Memory Bandwidth 4.8TB/s"',
    },
  },
  {
    id: 'a100-80gb-sxm',
    name: 'NVIDIA A100 80GB SXM',
    peakBf16Flops: 312e12,
    memoryBytesPerSecond: 2.039e12,
    source: {
      url: 'https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf',
      words:
        'A100 80GB SXM: "BFLOAT16 Tensor Core 312 TFLOPS | 624 TFLOPS*" (* with sparsity), "GPU Memory Bandwidth ... 2,039GB/s"',
    },
  },
  {
    id: 'b200',
    name: 'NVIDIA B200 (HGX B200)',
    peakBf16Flops: 4.5e15 / 2,
    memoryBytesPerSecond: 7.7e12,
    source: {
      url: 'https://www.nvidia.com/en-us/data-center/hgx/',
      words:
        'HGX B200, per GPU: "FP16/BF16 Tensor Core 4.5 PFLOPS" (with sparsity), "GPU Memory | Bandwidth 180GB HBM3E | 7.7TB/s"',
    },
  },
  {
    id: 'mi300x',
    name: 'AMD Instinct MI300X',
    peakBf16Flops: 1307.4e12,
    memoryBytesPerSecond: 5.3e12,
    source: {
      url: 'https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html',
      words:
        'MI300X: "Peak bfloat16 1307.4 TFLOPs" (2614.9 with structured sparsity), "Peak Memory Bandwidth 5.3 TB/s"',
    },
  },
]);

/** Cost model names of the rooflines: roofline:<device id>. */
export const ROOFLINE_PREFIX = 'roofline:';

/** The time model decode and workload mixes use when a request names none. */
export const DEFAULT_TIME_COST_MODEL = `${ROOFLINE_PREFIX}h100-sxm`;

/** The device a roofline name means, or undefined. */
export function rooflineDevice(name: string): Device | undefined {
  if (!name.startsWith(ROOFLINE_PREFIX)) return undefined;
  const id = name.slice(ROOFLINE_PREFIX.length);
  return DEVICES.find((device) => device.id === id);
}

/** Microseconds of `macs` multiply-accumulates and `bytes` of memory traffic on `device`. */
export function rooflineMicroseconds(device: Device, macs: number, bytes: number): number {
  return Math.max((2 * macs) / device.peakBf16Flops, bytes / device.memoryBytesPerSecond) * 1e6;
}

/** Keys one decode step reads from a group's K/V cache: the most any of its heads attends. */
export function decodeGroupKeys(budgets: readonly HeadBudget[], seqLen: number): number {
  let keys = 0;
  for (const budget of budgets) keys = Math.max(keys, decodeKeys(budget, seqLen));
  return keys;
}

/** The roofline cost model of `device` (name roofline:<id>, unit us). See the module comment. */
export function createRooflineCostModel(device: Device): CostModel {
  const { peakBf16Flops, memoryBytesPerSecond } = device;
  return Object.freeze({
    name: `${ROOFLINE_PREFIX}${device.id}`,
    unit: 'us',
    device: `${device.name} (roofline: ${peakBf16Flops / 1e12} TFLOP/s dense BF16, ${memoryBytesPerSecond / 1e12} TB/s)`,
    time: true,
    headCost: memoiseHeadCost((budget, workload, shape) => {
      const work = headWork(budget, workload).estimate;
      return rooflineMicroseconds(device, executedMacs(work, shape), 2 * work.rows * shape.headDim * shape.dtypeBytes);
    }),
    groupCost(budgets: readonly HeadBudget[], workload: Workload, shape: HeadShape, hiddenSize: number): number {
      checkHiddenSize(hiddenSize);
      if (workload.phase === 'decode') {
        const read = kvBytes(decodeGroupKeys(budgets, workload.seqLen), shape);
        return rooflineMicroseconds(device, kvProjectionMacs(1, hiddenSize, shape), read);
      }
      const tokens = workload.seqLen;
      return rooflineMicroseconds(device, kvProjectionMacs(tokens, hiddenSize, shape), kvBytes(tokens, shape));
    },
  });
}

function checkHiddenSize(hiddenSize: number): void {
  if (!(Number.isInteger(hiddenSize) && hiddenSize >= 1)) {
    throw new HplbError('INVALID_PROBLEM', `hiddenSize must be a positive integer, got ${hiddenSize}`, {
      pointer: '/profile/architecture/hiddenSize',
      rule: 'minimum',
    });
  }
}
