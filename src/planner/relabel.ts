/**
 * Relabelling the GPUs of each layer so that the KV heads a GPU stores, summed over all layers,
 * are as even as possible. With identical GPUs any relabelling of a layer leaves its loads and
 * makespan as they are (the same loads, on other labels), but a GPU's KV cache is the sum over
 * layers of what it stores in each: without this, one GPU can hold the largest share of every
 * layer. Greedy: layers with the widest spread first, each layer's fullest GPU onto the label with
 * the least so far (ties keep the lower label, so an even layer keeps its labels).
 */
import { sum } from '../solver/problem.ts';
import type { PlanLayer } from './plan.ts';

/** [layers] label2gpu of each layer: the layer's GPU that takes each label. */
export function evenKvLabels(kvHeadsPerGpu: readonly (readonly number[])[]): number[][] {
  const gpus = kvHeadsPerGpu[0]?.length ?? 0;
  const totals = new Array<number>(gpus).fill(0);
  const spread = kvHeadsPerGpu.map((row) => Math.max(...row) - Math.min(...row));
  const order = kvHeadsPerGpu.map((_, l) => l).sort((a, b) => spread[b] - spread[a] || a - b);
  const labels: number[][] = kvHeadsPerGpu.map(() => []);
  for (const l of order) {
    const row = kvHeadsPerGpu[l];
    if (spread[l] === 0) {
      labels[l] = row.map((_, g) => g);
    } else {
      const fullest = row.map((_, g) => g).sort((a, b) => row[b] - row[a] || a - b);
      const emptiest = totals.map((_, label) => label).sort((a, b) => totals[a] - totals[b] || a - b);
      labels[l] = new Array<number>(gpus);
      fullest.forEach((g, i) => {
        labels[l][emptiest[i]] = g;
      });
    }
    labels[l].forEach((g, label) => {
      totals[label] += row[g];
    });
  }
  return labels;
}

/**
 * A valid lower bound on the largest per-GPU sum of KV heads over layers under any relabelling:
 * the sum spread evenly (rounded up: heads are whole), and for each layer the GPU that takes its
 * largest count holds at least the least count of every other layer.
 */
export function kvLabelBound(kvHeadsPerGpu: readonly (readonly number[])[]): number {
  const gpus = kvHeadsPerGpu[0]?.length ?? 0;
  if (gpus === 0) return 0;
  const least = kvHeadsPerGpu.map((row) => Math.min(...row));
  const leastSum = sum(least);
  let bound = Math.ceil(sum(kvHeadsPerGpu.map((row) => sum(row))) / gpus);
  kvHeadsPerGpu.forEach((row, l) => {
    bound = Math.max(bound, Math.max(...row) + leastSum - least[l]);
  });
  return bound;
}

/** The largest per-GPU sum over layers of `perGpu` (layers all of one GPU count). */
export function largestGpuSum(perGpu: readonly (readonly number[])[]): number {
  const gpus = perGpu[0]?.length ?? 0;
  let largest = 0;
  for (let g = 0; g < gpus; g++) largest = Math.max(largest, sum(perGpu.map((row) => row[g])));
  return largest;
}

/**
 * The layer with GPU label2gpu[label] renamed `label`: its per-GPU arrays reordered, units and
 * parts moved to their new labels, the permutation rebuilt GPU-major.
 */
export function relabelLayer(layer: PlanLayer, label2gpu: readonly number[]): PlanLayer {
  if (label2gpu.every((g, label) => g === label)) return layer;
  const gpu2label = new Array<number>(label2gpu.length);
  label2gpu.forEach((g, label) => {
    gpu2label[g] = label;
  });
  const reorder = <T>(row: readonly T[]): T[] => label2gpu.map((g) => row[g]);
  const gpu2units = reorder(layer.gpu2units);
  return {
    ...layer,
    unit2gpu: layer.unit2gpu.map((g) => gpu2label[g]),
    gpu2units,
    permutation: gpu2units.flat(),
    gpuLoads: reorder(layer.gpuLoads),
    ...(layer.kvHeadsPerGpu ? { kvHeadsPerGpu: reorder(layer.kvHeadsPerGpu) } : {}),
    ...(layer.kvBytesPerGpu ? { kvBytesPerGpu: reorder(layer.kvBytesPerGpu) } : {}),
    ...(layer.parts ? { parts: layer.parts.map((part) => ({ ...part, gpu: gpu2label[part.gpu] })) } : {}),
    ...(layer.extraKvCopies ? { extraKvCopies: reorder(layer.extraKvCopies) } : {}),
    ...(layer.extraKvBytes ? { extraKvBytes: reorder(layer.extraKvBytes) } : {}),
  };
}
