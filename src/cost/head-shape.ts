/**
 * The geometry of a head beyond the workload (head dimension, bytes per K/V element), the model
 * width its K/V projections read, and the sizes and work that follow from them: a KV head's cache
 * and one stored group's projections. Pure.
 */

/** Head geometry beyond the workload: head dimension and bytes per K/V element. */
export interface HeadShape {
  readonly headDim: number;
  readonly dtypeBytes: number;
}

/** Llama-3-8B and the MInference profiles: d = 128, bf16 K/V. */
export const DEFAULT_HEAD_SHAPE: HeadShape = Object.freeze({ headDim: 128, dtypeBytes: 2 });

/**
 * The shape of a profile's heads: its head dimension, and K/V elements of kvBytesPerElement bytes
 * when the architecture says so, else bf16 (2 bytes) as MInference serves them.
 */
export function headShapeOf(architecture: {
  readonly headDim: number;
  readonly kvBytesPerElement?: number;
}): HeadShape {
  return { headDim: architecture.headDim, dtypeBytes: architecture.kvBytesPerElement ?? DEFAULT_HEAD_SHAPE.dtypeBytes };
}

/** The embedding width the K/V projections read: the architecture's, else queryHeads x headDim. */
export function hiddenSizeOf(architecture: {
  readonly queryHeads: number;
  readonly headDim: number;
  readonly hiddenSize?: number;
}): number {
  return architecture.hiddenSize ?? architecture.queryHeads * architecture.headDim;
}

/** Bytes of K and V read: keys x 2 (K and V) x d x bytes per element. */
export function kvBytes(keys: number, shape: HeadShape): number {
  return keys * 2 * shape.headDim * shape.dtypeBytes;
}

/**
 * Multiply-accumulates of one KV group's K and V projections over `tokens` tokens: 2 (K and V) x
 * tokens x hiddenSize x d. Every GPU that stores the group computes them, so a replicated group
 * pays them once per copy. hiddenSize is the model's embedding width (queryHeads x headDim for
 * every model shipped here).
 */
export function kvProjectionMacs(tokens: number, hiddenSize: number, shape: HeadShape): number {
  return 2 * tokens * hiddenSize * shape.headDim;
}
