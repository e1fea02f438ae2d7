/**
 * Rewrites one safetensors file in the new head order, streaming: the output is written front to
 * back through three buffers of `chunkBytes`, whatever the tensor sizes. Bytes are moved, never
 * decoded, so every dtype is handled alike.
 *   q_proj rows (and bias): head block j of the output = block queryHeads[j] of the source;
 *   k_proj, v_proj rows (and biases): block b = source KV block kvHeads[b] (repeats duplicate);
 *   o_proj: in every row, column block j = source column block queryHeads[j];
 *   anything else: copied byte for byte. Without KV duplication the header is copied verbatim,
 *   so every offset and every other byte of the file is unchanged.
 */
import { createSequentialWriter, type SafetensorsReader, type WrittenFile } from '../safetensors/file.ts';
import { buildHeader } from '../safetensors/format.ts';
import type { LayerTensors } from './checkpoint.ts';
import type { HeadOrder } from './head-order.ts';

type Role = keyof LayerTensors;

/** Tensor name -> which attention tensor of which layer it is. */
export function attentionRoles(attention: readonly LayerTensors[]): Map<string, { layer: number; role: Role }> {
  const roles = new Map<string, { layer: number; role: Role }>();
  attention.forEach((tensors, layer) => {
    for (const [role, t] of Object.entries(tensors) as [Role, LayerTensors[Role]][]) {
      if (t) roles.set(t.name, { layer, role });
    }
  });
  return roles;
}

export interface RewriteOptions {
  readonly order: HeadOrder;
  readonly roles: ReadonlyMap<string, { layer: number; role: Role }>;
  /** Size of each of the three working buffers, bytes (raised to one o_proj row when smaller). */
  readonly chunkBytes: number;
}

/** Writes `reader`'s file rewritten to `outPath` (which must not exist); returns its size and hash. */
export async function rewriteFile(
  reader: SafetensorsReader,
  outPath: string,
  options: RewriteOptions,
): Promise<WrittenFile> {
  const { order, roles } = options;
  const expanded = order.outputKvHeads !== order.kvHeads;
  const isKv = (role: Role | undefined): boolean =>
    role === 'k' || role === 'v' || role === 'kBias' || role === 'vBias';
  const header = expanded
    ? buildHeader(
        reader.tensors.map((t) => {
          if (!isKv(roles.get(t.name)?.role)) return t;
          return { ...t, shape: [(t.shape[0] / order.kvHeads) * order.outputKvHeads, ...t.shape.slice(1)] };
        }),
        reader.metadata,
      ).block
    : reader.headerBlock;
  const oRows = reader.tensors.filter((t) => roles.get(t.name)?.role === 'o');
  const rowLimit = Math.max(...oRows.map((t) => (t.end - t.begin) / t.shape[0]), 0);
  const size = Math.max(options.chunkBytes, rowLimit);
  const source = Buffer.allocUnsafe(size);
  const spare = Buffer.allocUnsafe(size);
  const target = Buffer.allocUnsafe(size);
  const writer = await createSequentialWriter(outPath);

  // Reads the next piece while the current one is written: two buffers take turns. A read-ahead
  // that fails while a write is awaited is marked handled at once and rethrown when awaited.
  const readAhead = (offset: number, length: number, into: Buffer): Promise<Buffer> => {
    const pending = reader.read(offset, length, into);
    pending.catch(() => undefined);
    return pending;
  };
  const copy = async (offset: number, length: number): Promise<void> => {
    const buffers = [source, spare];
    let pending = readAhead(offset, Math.min(size, length), buffers[0]);
    for (let done = 0, turn = 0; done < length; done += size, turn ^= 1) {
      const data = await pending;
      const next = done + size;
      if (next < length) pending = readAhead(offset + next, Math.min(size, length - next), buffers[turn ^ 1]);
      await writer.write(data);
    }
  };
  const copyBlocks = async (begin: number, blockBytes: number, blocks: readonly number[]): Promise<void> => {
    for (const block of blocks) await copy(begin + block * blockBytes, blockBytes);
  };
  const permuteColumns = async (begin: number, rows: number, rowBytes: number, columns: readonly number[]) => {
    const segment = rowBytes / order.queryHeads;
    const perChunk = Math.max(1, Math.floor(size / rowBytes));
    for (let row = 0; row < rows; row += perChunk) {
      const n = Math.min(perChunk, rows - row);
      const chunk = await reader.read(begin + row * rowBytes, n * rowBytes, source);
      for (let r = 0; r < n; r++) {
        const base = r * rowBytes;
        columns.forEach((from, j) => {
          chunk.copy(target, base + j * segment, base + from * segment, base + (from + 1) * segment);
        });
      }
      await writer.write(target.subarray(0, n * rowBytes));
    }
  };

  try {
    await writer.write(header);
    for (const t of reader.tensors) {
      const found = roles.get(t.name);
      const bytes = t.end - t.begin;
      if (found === undefined) {
        await copy(t.begin, bytes);
        continue;
      }
      const layer = order.layers[found.layer];
      if (found.role === 'o') {
        await permuteColumns(t.begin, t.shape[0], bytes / t.shape[0], layer.queryHeads);
      } else if (found.role === 'q' || found.role === 'qBias') {
        await copyBlocks(t.begin, bytes / order.queryHeads, layer.queryHeads);
      } else {
        await copyBlocks(t.begin, bytes / order.kvHeads, layer.kvHeads);
      }
    }
    return await writer.close();
  } catch (error) {
    // The caller removes the whole unfinished output folder; only the handle needs closing here.
    await writer.close().catch(() => undefined);
    throw error;
  }
}
