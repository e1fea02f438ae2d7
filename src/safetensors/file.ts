/**
 * Safetensors files on disk, read and written in bounded pieces: a reader that parses only the
 * header and reads byte ranges on demand, and a sequential writer that hashes what it writes.
 * Neither ever holds a whole tensor unless the caller asks for one.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { HplbError } from '../errors.ts';
import { MAX_HEADER_BYTES, parseHeader, type SafetensorsHeader, type TensorEntry } from './format.ts';

export interface SafetensorsReader extends SafetensorsHeader {
  readonly path: string;
  /** The 8-byte length plus the header JSON, exactly as stored. */
  readonly headerBlock: Buffer;
  /** Absolute file position of the buffer's first byte. */
  readonly dataStart: number;
  readonly fileBytes: number;
  /** The tensor called `name`, or undefined. */
  tensor(name: string): TensorEntry | undefined;
  /** Reads `length` bytes at buffer offset `offset` into `into` (from its start); throws on a short file. */
  read(offset: number, length: number, into: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

function bad(message: string): HplbError {
  return new HplbError('INVALID_CHECKPOINT', message);
}

/** Fills `into[0, length)` from `position`, looping over short reads; throws at end of file. */
async function readFully(
  handle: FileHandle,
  position: number,
  length: number,
  into: Buffer,
  where: string,
): Promise<Buffer> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(into, done, length - done, position + done);
    if (bytesRead === 0) {
      throw bad(`${where}: file ends at byte ${position + done}, expected ${length - done} more bytes`);
    }
    done += bytesRead;
  }
  return into.subarray(0, length);
}

/**
 * Opens a safetensors file and checks its header against the file: the header length must lie
 * inside the file and the tensors must fill the rest of it exactly. HplbError INVALID_CHECKPOINT
 * naming the file otherwise.
 */
export async function openSafetensors(path: string): Promise<SafetensorsReader> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw bad(`cannot open ${path}: ${error instanceof Error ? error.message : String(error)}`);
  });
  try {
    const fileBytes = (await handle.stat()).size;
    if (fileBytes < 8) {
      throw bad(`${path}: ${fileBytes} bytes is too short for a safetensors file (8-byte header length)`);
    }
    const lengthBytes = await readFully(handle, 0, 8, Buffer.alloc(8), path);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(fileBytes - 8)) {
      throw bad(`${path}: header length ${headerLength} runs past the end of the file (${fileBytes} bytes)`);
    }
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw bad(`${path}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    }
    const n = Number(headerLength);
    const headerBlock = Buffer.alloc(8 + n);
    lengthBytes.copy(headerBlock, 0);
    await readFully(handle, 8, n, headerBlock.subarray(8), path);
    const header = parseHeader(headerBlock.subarray(8).toString('utf8'), path);
    const dataStart = 8 + n;
    if (dataStart + header.bufferBytes !== fileBytes) {
      throw bad(`${path}: tensors end at byte ${dataStart + header.bufferBytes} but the file has ${fileBytes} bytes`);
    }
    const byName = new Map(header.tensors.map((t) => [t.name, t]));
    return {
      ...header,
      path,
      headerBlock,
      dataStart,
      fileBytes,
      tensor: (name) => byName.get(name),
      read: (offset, length, into) => readFully(handle, dataStart + offset, length, into, path),
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** SHA-256 (hex) of a whole file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Bytes written and their SHA-256 (hex). */
export interface WrittenFile {
  readonly bytes: number;
  readonly sha256: string;
}

export interface SequentialWriter {
  /** Appends `data`; the caller may reuse the buffer once the promise settles. */
  write(data: Uint8Array): Promise<void>;
  close(): Promise<WrittenFile>;
}

/** A file written front to back (created exclusively), hashed on the way. */
export async function createSequentialWriter(path: string): Promise<SequentialWriter> {
  const handle = await open(path, 'wx');
  const hash: Hash = createHash('sha256');
  let bytes = 0;
  return {
    async write(data) {
      hash.update(data);
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, bytes + done);
        done += bytesWritten;
      }
      bytes += data.length;
    },
    async close() {
      await handle.close();
      return { bytes, sha256: hash.digest('hex') };
    },
  };
}
