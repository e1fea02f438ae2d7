/**
 * The safetensors format (huggingface/safetensors, docs "Format"): an 8-byte little-endian
 * unsigned header length N, N bytes of UTF-8 JSON (may end in spaces), then the byte buffer.
 * The JSON maps each tensor name to { dtype, shape, data_offsets: [begin, end) } relative to the
 * buffer, plus an optional "__metadata__" string map. The buffer must be fully indexed: no holes,
 * no overlaps. Pure: parsing and serialising headers only, no file access.
 */
import { HplbError } from '../errors.ts';

/** Bits per element of every dtype the format defines (sub-byte float types included). */
export const DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  I64: 64,
  U64: 64,
  F64: 64,
  C64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
};

/** The reference implementation refuses headers above 100 MB; so does this reader. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor of a file; `begin`/`end` are byte offsets into the buffer (after the header). */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Tensors in buffer order (ascending `begin`). */
  readonly tensors: readonly TensorEntry[];
  readonly metadata: Readonly<Record<string, string>> | null;
  /** Bytes of the buffer: the end of the last tensor. */
  readonly bufferBytes: number;
}

function invalid(where: string, message: string): never {
  throw new HplbError('INVALID_CHECKPOINT', `${where}: ${message}`);
}

/** Elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes a tensor of this dtype and shape occupies; throws when the dtype is unknown or the bits do not fill bytes. */
export function tensorBytes(dtype: string, shape: readonly number[], where = 'tensor'): number {
  const bits = DTYPE_BITS[dtype];
  if (bits === undefined) invalid(where, `unknown dtype ${JSON.stringify(dtype)}`);
  const totalBits = elementCount(shape) * bits;
  if (totalBits % 8 !== 0) invalid(where, `${dtype} tensor of shape [${shape.join(', ')}] does not fill whole bytes`);
  return totalBits / 8;
}

/**
 * Parses and checks a header's JSON text. `where` names the file in errors. Every tensor's byte
 * range must match its dtype and shape, and the ranges must tile [0, bufferBytes) exactly.
 */
export function parseHeader(text: string, where: string): SafetensorsHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    invalid(where, `header is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) invalid(where, 'header must be a JSON object');
  let metadata: Record<string, string> | null = null;
  const tensors: TensorEntry[] = [];
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      const isMap = typeof value === 'object' && value !== null && !Array.isArray(value);
      if (!isMap || !Object.values(value).every((v) => typeof v === 'string')) {
        invalid(where, '__metadata__ must map strings to strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const at = `${where}: tensor ${name}`;
    if (typeof entry !== 'object' || entry === null) invalid(at, 'entry must be an object');
    if (typeof entry.dtype !== 'string') invalid(at, 'dtype must be a string');
    if (!Array.isArray(entry.shape) || !entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      invalid(at, 'shape must be a list of non-negative integers');
    }
    const offsets = entry.data_offsets;
    const pair = Array.isArray(offsets) && offsets.length === 2;
    const valid = pair && offsets.every((o) => Number.isSafeInteger(o) && o >= 0);
    if (!valid || offsets[0] > offsets[1]) {
      invalid(at, 'data_offsets must be [begin, end] with 0 <= begin <= end');
    }
    const shape = entry.shape as number[];
    const [begin, end] = offsets as [number, number];
    const bytes = tensorBytes(entry.dtype, shape, at);
    if (end - begin !== bytes) {
      invalid(at, `data_offsets span ${end - begin} bytes but ${entry.dtype} [${shape.join(', ')}] needs ${bytes}`);
    }
    tensors.push({ name, dtype: entry.dtype, shape, begin, end });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of tensors) {
    if (t.begin !== cursor) {
      const hole = `bytes [${cursor}, ${t.begin}) of the buffer belong to no tensor`;
      invalid(where, t.begin > cursor ? hole : `tensor ${t.name} overlaps the tensor before it`);
    }
    cursor = t.end;
  }
  return { tensors, metadata, bufferBytes: cursor };
}

/**
 * The header block of a file holding `tensors` (laid out in the given order, back to back) and
 * `metadata`: the 8-byte length plus JSON padded with spaces to a multiple of 8 bytes, as the
 * reference writer aligns it. Returns the block and the tensors with their new offsets.
 */
export function buildHeader(
  tensors: readonly { name: string; dtype: string; shape: readonly number[] }[],
  metadata: Readonly<Record<string, string>> | null,
): { block: Buffer; tensors: TensorEntry[] } {
  const json: Record<string, unknown> = {};
  if (metadata !== null) json.__metadata__ = metadata;
  const placed: TensorEntry[] = [];
  let cursor = 0;
  for (const t of tensors) {
    const bytes = tensorBytes(t.dtype, t.shape, `tensor ${t.name}`);
    placed.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], begin: cursor, end: cursor + bytes });
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [cursor, cursor + bytes] };
    cursor += bytes;
  }
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  const padded = Math.ceil(text.length / 8) * 8;
  const block = Buffer.alloc(8 + padded, 0x20);
  block.writeBigUInt64LE(BigInt(padded), 0);
  text.copy(block, 8);
  return { block, tensors: placed };
}
