import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSequentialWriter, openSafetensors, sha256File } from '../../src/safetensors/file.ts';
import { buildHeader, parseHeader } from '../../src/safetensors/format.ts';
import type { HplbError } from '../../src/errors.ts';

// Written by the reference implementation (Python `safetensors` 0.8.0 with numpy) with
// test/fixtures/safetensors/make-fixture.py; the values below are the script's.
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'safetensors', 'written-by-safetensors.safetensors');

describe('safetensors reader and writer', () => {
  it('reads a file written by the reference implementation: dtypes, shapes, values, metadata', async () => {
    const reader = await openSafetensors(FIXTURE);
    try {
      assert.deepEqual(reader.metadata, { format: 'np', note: 'fixture' });
      const get = async (name: string) => {
        const t = reader.tensor(name)!;
        return { ...t, bytes: Buffer.from(await reader.read(t.begin, t.end - t.begin, Buffer.alloc(t.end - t.begin))) };
      };
      const q = await get('model.layers.0.self_attn.q_proj.weight');
      assert.equal(q.dtype, 'F32');
      assert.deepEqual(q.shape, [6, 4]);
      const values = [...new Float32Array(q.bytes.buffer, q.bytes.byteOffset, 24)];
      assert.deepEqual(
        values,
        Array.from({ length: 24 }, (_, i) => i / 8),
      );
      const ids = await get('ids');
      assert.deepEqual(
        [0, 1, 2, 3].map((i) => ids.bytes.readBigInt64LE(i * 8)),
        [-3n, 0n, 7n, 2n ** 40n],
      );
      const half = await get('half');
      assert.deepEqual([half.dtype, half.shape, half.bytes.length], ['F16', [3, 2], 12]);
      assert.equal(half.bytes.readUInt16LE(0), 0xc100, 'float16 -2.5');
      assert.deepEqual([...(await get('mask')).bytes], [1, 0, 1]);
      assert.deepEqual([...(await get('bytes')).bytes], [0, 1, 2, 3, 4]);
      assert.equal((await get('scalar')).bytes.readDoubleLE(0), 1.5);
      assert.deepEqual((await get('empty')).shape, [0, 3]);
    } finally {
      await reader.close();
    }
  });

  it('writes the same header bytes as the reference implementation for the same tensors', async () => {
    const reader = await openSafetensors(FIXTURE);
    await reader.close();
    const { block } = buildHeader(reader.tensors, reader.metadata);
    const [ours, theirs] = [block.subarray(8).toString(), reader.headerBlock.subarray(8).toString()];
    assert.ok(block.equals(reader.headerBlock), `${ours}\n!==\n${theirs}`);
  });

  it('round-trips every dtype through the writer, hashing what it writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hplb-st-'));
    const tensors = [
      { name: 'a', dtype: 'BF16', shape: [2, 3] },
      { name: 'b', dtype: 'F8_E4M3', shape: [5] },
      { name: 'c', dtype: 'F4', shape: [4] },
      { name: 'd', dtype: 'U64', shape: [1, 1] },
    ];
    const { block, tensors: placed } = buildHeader(tensors, null);
    const data = Buffer.from(Array.from({ length: placed.at(-1)!.end }, (_, i) => (i * 37) & 0xff));
    const writer = await createSequentialWriter(join(dir, 'x.safetensors'));
    await writer.write(block);
    await writer.write(data);
    const written = await writer.close();
    assert.equal(written.sha256, await sha256File(join(dir, 'x.safetensors')));
    assert.equal(written.bytes, block.length + data.length);
    const reader = await openSafetensors(join(dir, 'x.safetensors'));
    assert.deepEqual(reader.tensors, placed);
    assert.deepEqual(
      placed.map((t) => t.end - t.begin),
      [12, 5, 2, 8],
    );
    assert.ok((await reader.read(0, data.length, Buffer.alloc(data.length))).equals(data));
    await reader.close();
    await assert.rejects(createSequentialWriter(join(dir, 'x.safetensors')), /EEXIST/);
  });

  const entry = (dtype: string, shape: number[], begin: number, end: number) => ({
    dtype,
    shape,
    data_offsets: [begin, end],
  });
  const BAD_HEADERS: { name: string; header: unknown; message: RegExp }[] = [
    { name: 'an unknown dtype', header: { t: entry('F7', [1], 0, 1) }, message: /unknown dtype "F7"/ },
    {
      name: 'mismatched offsets',
      header: { t: entry('F32', [2], 0, 4) },
      message: /span 4 bytes but F32 \[2\] needs 8/,
    },
    {
      name: 'a hole in the buffer',
      header: { t: entry('U8', [1], 1, 2) },
      message: /bytes \[0, 1\) of the buffer belong to/,
    },
    {
      name: 'overlapping tensors',
      header: { a: entry('U8', [2], 0, 2), b: entry('U8', [1], 1, 2) },
      message: /overlaps/,
    },
    { name: 'non-string metadata', header: { __metadata__: { n: 1 } }, message: /__metadata__ must map strings to/ },
    {
      name: 'a negative dimension',
      header: { t: entry('U8', [-1], 0, 0) },
      message: /shape must be a list of non-negative/,
    },
  ];
  for (const { name, header, message } of BAD_HEADERS) {
    it(`refuses a header with ${name}`, () => {
      const refused = (error: HplbError): boolean => error.code === 'INVALID_CHECKPOINT' && message.test(error.message);
      assert.throws(() => parseHeader(JSON.stringify(header), 'f.safetensors'), refused);
    });
  }

  it('refuses a file shorter than the header length field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hplb-st-'));
    writeFileSync(join(dir, 'short.safetensors'), Buffer.from([1, 2, 3]));
    await assert.rejects(openSafetensors(join(dir, 'short.safetensors')), /too short for a safetensors file/);
  });
});
