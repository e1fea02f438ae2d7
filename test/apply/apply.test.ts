import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applyPlan, MANIFEST_FILE, type Manifest } from '../../src/apply/apply.ts';
import type { PlanLike } from '../../src/apply/head-order.ts';
import type { HplbError } from '../../src/errors.ts';
import { maxAbsDiff } from '../../src/kernel/reference.ts';
import { ALIGNED_QUERY_PLAN, KV_GROUP_PLAN, SPLIT_QUERY_PLAN, writeSparseConfigs } from './plans.ts';
import {
  TINY,
  attentionForward,
  readTensors,
  seeded,
  writeTinyCheckpoint,
  type PatternEntry,
  type TinyOptions,
} from './tiny-model.ts';

const N = 10;
const x = Float64Array.from({ length: N * TINY.hidden }, seeded(3));

function fresh(): string {
  return mkdtempSync(join(tmpdir(), 'hplb-apply-'));
}

/** Splits `bytes` into `count` equal blocks. */
function blocks(bytes: Buffer, count: number): Buffer[] {
  const size = bytes.length / count;
  return Array.from({ length: count }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
}

/** Column block j of a row-major [rows, count * width] matrix, as bytes. */
function columnBlocks(bytes: Buffer, rows: number, count: number): Buffer[] {
  const row = bytes.length / rows;
  const width = row / count;
  const piece = (r: number, j: number): Buffer => bytes.subarray(r * row + j * width, r * row + (j + 1) * width);
  const column = (j: number): Buffer => Buffer.concat(Array.from({ length: rows }, (_, r) => piece(r, j)));
  return Array.from({ length: count }, (_, j) => column(j));
}

/** Which source block each output block is a copy of (blocks are random, so unique). */
function identify(out: Buffer[], source: Buffer[]): number[] {
  return out.map((block) => {
    const found = source.findIndex((s) => s.equals(block));
    assert.notEqual(found, -1, 'every output block is a copy of a source block');
    return found;
  });
}

type Tensors = Awaited<ReturnType<typeof readTensors>>;

/**
 * Slices the rewritten q/k/v/o of every layer the way vLLM's QKVParallelLinear and
 * RowParallelLinear do for `gpus` ranks and checks each rank holds exactly the plan's heads,
 * each reading its own KV head.
 */
function checkRanks(plan: PlanLike, source: Tensors, output: Tensors, manifest: Manifest): void {
  const G = plan.gpus.count;
  const { queryHeads: H, kvHeads: K, hidden } = TINY;
  const groupSize = H / K;
  for (let l = 0; l < TINY.layers; l++) {
    const name = (p: string) => `model.layers.${l}.self_attn.${p}_proj.weight`;
    const [out, src] = [(p: string) => output.get(name(p))!.bytes, (p: string) => source.get(name(p))!.bytes];
    const q = identify(blocks(out('q'), H), blocks(src('q'), H));
    const o = identify(columnBlocks(out('o'), hidden, H), columnBlocks(src('o'), hidden, H));
    const outKv = output.get(name('k'))!.shape[0] / TINY.headDim;
    const k = identify(blocks(out('k'), outKv), blocks(src('k'), K));
    const v = identify(blocks(out('v'), outKv), blocks(src('v'), K));
    assert.deepEqual(o, q, 'o_proj columns follow q_proj rows');
    assert.deepEqual(v, k, 'v_proj rows follow k_proj rows');
    for (let rank = 0; rank < G; rank++) {
      const units = plan.layers[l].gpu2units[rank];
      const heads = (g: number): number[] => Array.from({ length: groupSize }, (_, i) => g * groupSize + i);
      const planned = plan.granularity === 'kv-group' ? units.flatMap(heads) : units;
      const qSlots = q.slice((rank * H) / G, ((rank + 1) * H) / G);
      assert.deepEqual([...qSlots].sort(), [...planned].sort(), `layer ${l} rank ${rank} query heads`);
      // vLLM: K/G KV heads per rank, or KV head rank // (G / K) replicated when K < G.
      const perRank = outKv / G;
      const kvSlots = perRank >= 1 ? k.slice(rank * perRank, (rank + 1) * perRank) : [k[Math.floor(rank * perRank)]];
      qSlots.forEach((head, i) => {
        const slot = Math.floor(((rank * H) / G + i) / (H / outKv));
        assert.equal(k[slot], Math.floor(head / groupSize), `layer ${l}: query head ${head} reads its own KV head`);
      });
      const placed = plan.layers[l].permutation.slice(rank * units.length, (rank + 1) * units.length);
      assert.deepEqual(manifest.layers[l].ranks[rank], { rank, units: placed, queryHeads: qSlots, kvHeads: kvSlots });
    }
  }
}

async function forward(dir: string, patterns: Record<string, PatternEntry>[]): Promise<Float64Array> {
  return attentionForward(dir, x, N, patterns);
}

function readPatterns(out: string): Record<string, PatternEntry>[] {
  const text = readFileSync(join(out, 'minference', 'Tiny_minference.json'), 'utf8');
  return JSON.parse(text) as Record<string, PatternEntry>[];
}

function assertNoOutput(parent: string, out: string): void {
  assert.equal(existsSync(out), false, 'no output folder');
  assert.deepEqual(
    readdirSync(parent).filter((f) => f.includes('.partial-')),
    [],
    'no partial folder',
  );
}

describe('apply a plan to a checkpoint', () => {
  const variants: (TinyOptions & { label: string })[] = [
    { label: 'f32, one file', dtype: 'F32', shards: 1 },
    { label: 'f32, two shards', dtype: 'F32', shards: 2 },
    { label: 'bf16, one file', dtype: 'BF16', shards: 1 },
    { label: 'bf16, two shards', dtype: 'BF16', shards: 2 },
    { label: 'qwen2 with q/k/v biases, f32, two shards', dtype: 'F32', shards: 2, qwen2: true },
  ];
  for (const variant of variants) {
    it(`keeps the attention output of a kv-group plan and gives each rank its heads (${variant.label})`, async () => {
      const dir = fresh();
      const source = join(dir, 'src');
      writeTinyCheckpoint(source, variant);
      const sparse = writeSparseConfigs(dir);
      const out = join(dir, 'out');
      const { manifest } = await applyPlan({
        plan: KV_GROUP_PLAN,
        checkpointDir: source,
        outDir: out,
        minferenceConfig: sparse.minference,
        duoAttentionDir: sparse.duo,
        chunkBytes: 4096,
      });

      const rewritten = readPatterns(out);
      const before = await forward(source, sparse.patterns);
      const after = await forward(out, rewritten);
      assert.ok(maxAbsDiff(before, after) <= 1e-6, `max abs difference ${maxAbsDiff(before, after)}`);
      const unmoved = await forward(out, sparse.patterns);
      assert.ok(maxAbsDiff(before, unmoved) > 1e-4, 'the patterns must move with their heads');

      const [src, dst] = [await readTensors(source), await readTensors(out)];
      assert.deepEqual([...dst.keys()].sort(), [...src.keys()].sort());
      for (const [name, t] of src) {
        if (/self_attn\.[qkvo]_proj/.test(name) && !name.startsWith('model.layers.1.')) continue;
        assert.ok(dst.get(name)!.bytes.equals(t.bytes), `${name} copied byte for byte`);
      }
      const q0 = 'model.layers.0.self_attn.q_proj.weight';
      assert.ok(!dst.get(q0)!.bytes.equals(src.get(q0)!.bytes), 'layer 0 is reordered');
      checkRanks(KV_GROUP_PLAN, src, dst, manifest);

      const index = variant.shards === 2 ? ['model.safetensors.index.json'] : [];
      const copied = ['config.json', 'tokenizer.json', ...index];
      for (const file of copied) {
        assert.ok(readFileSync(join(out, file)).equals(readFileSync(join(source, file))), `${file} copied`);
      }
      const table = (path: string): string[][] =>
        readFileSync(path, 'utf8')
          .trim()
          .split('\n')
          .map((row) => row.split('\t'));
      const gates = table(join(out, 'duo-attention', 'Tiny.full_attention_heads.tsv'));
      const sourceGates = table(join(sparse.duo, 'Tiny.full_attention_heads.tsv'));
      assert.deepEqual(
        gates,
        sourceGates.map((row, l) => KV_GROUP_PLAN.layers[l].permutation.map((g) => row[g])),
      );

      const written = JSON.parse(readFileSync(join(out, MANIFEST_FILE), 'utf8')) as Manifest;
      assert.deepEqual(written, manifest);
      assert.equal(manifest.planId, KV_GROUP_PLAN.id);
      assert.equal(manifest.tensorParallelSize, 2);
      assert.deepEqual(
        manifest.layers.map((l) => l.kvHeads),
        KV_GROUP_PLAN.layers.map((l) => l.permutation),
      );
      const outFiles = new Map(manifest.output.files.map((f) => [f.path, f]));
      for (const name of readdirSync(out).filter((f) => f.endsWith('.safetensors'))) {
        assert.equal(outFiles.get(name)?.bytes, readFileSync(join(out, name)).length, `${name} size in the manifest`);
      }
      assert.equal(manifest.source.files.length, readdirSync(source).length);
    });
  }

  it('moves tensors of any dtype as bytes (float8 e4m3, two shards)', async () => {
    const dir = fresh();
    writeTinyCheckpoint(join(dir, 'src'), { dtype: 'F8_E4M3', shards: 2, qwen2: true });
    const { manifest } = await applyPlan({
      plan: KV_GROUP_PLAN,
      checkpointDir: join(dir, 'src'),
      outDir: join(dir, 'out'),
    });
    const [src, dst] = [await readTensors(join(dir, 'src')), await readTensors(join(dir, 'out'))];
    assert.equal(dst.get('model.layers.0.self_attn.q_proj.weight')!.dtype, 'F8_E4M3');
    checkRanks(KV_GROUP_PLAN, src, dst, manifest);
    assert.ok(dst.get('model.embed_tokens.weight')!.bytes.equals(src.get('model.embed_tokens.weight')!.bytes));
  });

  it('applies a query-head plan that keeps KV groups whole without touching the KV heads count', async () => {
    const dir = fresh();
    writeTinyCheckpoint(join(dir, 'src'), { dtype: 'F32', shards: 1 });
    const sparse = writeSparseConfigs(dir);
    const { manifest } = await applyPlan({
      plan: ALIGNED_QUERY_PLAN,
      checkpointDir: join(dir, 'src'),
      outDir: join(dir, 'out'),
      minferenceConfig: sparse.minference,
    });
    assert.equal(manifest.output.kvHeads, TINY.kvHeads);
    checkRanks(ALIGNED_QUERY_PLAN, await readTensors(join(dir, 'src')), await readTensors(join(dir, 'out')), manifest);
    const after = await forward(join(dir, 'out'), readPatterns(join(dir, 'out')));
    assert.ok(maxAbsDiff(await forward(join(dir, 'src'), sparse.patterns), after) <= 1e-6);
  });

  it('refuses a query-head plan that splits KV groups, naming granularity=kv-group and --expand-kv', async () => {
    const dir = fresh();
    writeTinyCheckpoint(join(dir, 'src'), { dtype: 'F32', shards: 1 });
    await assert.rejects(
      applyPlan({ plan: SPLIT_QUERY_PLAN, checkpointDir: join(dir, 'src'), outDir: join(dir, 'out') }),
      (error: HplbError) =>
        error.code === 'PLAN_MISMATCH' &&
        /granularity=kv-group/.test(error.message) &&
        /--expand-kv/.test(error.message),
    );
    assertNoOutput(dir, join(dir, 'out'));
  });

  it('with --expand-kv refuses a plan whose checkpoint would hold more KV than the plan stores, unless allowed', async () => {
    const dir = fresh();
    writeTinyCheckpoint(join(dir, 'src'), { dtype: 'BF16', shards: 2, qwen2: true });
    const sparse = writeSparseConfigs(dir);
    const out = join(dir, 'out');
    const options = {
      plan: SPLIT_QUERY_PLAN,
      checkpointDir: join(dir, 'src'),
      outDir: out,
      expandKv: true,
      minferenceConfig: sparse.minference,
      duoAttentionDir: sparse.duo,
    };
    // Layer 1 keeps each GPU on one KV group, layers 0 and 2 give every GPU two: the plan stores
    // 5/3 of the contiguous KV, the engine's uniform split needs 2 KV heads on every rank in every layer.
    await assert.rejects(
      applyPlan(options),
      (error: HplbError) =>
        error.code === 'PLAN_MISMATCH' &&
        error.rule === 'exactKv' &&
        /1\.667x/.test(error.message) &&
        /--allow-extra-kv/.test(error.message),
    );
    assertNoOutput(dir, out);
    const { manifest } = await applyPlan({ ...options, allowExtraKv: true });
    // Every rank holds query heads of both KV heads: one KV head per query head, 2 per rank instead of 1.
    assert.equal(manifest.output.kvHeads, 8);
    assert.equal(manifest.output.kvCacheFactor, 2);
    assert.equal(manifest.output.planKvCacheFactor, 5 / 3);
    assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).num_key_value_heads, 8);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    // 3 layers x (k, v) x 6 extra heads x (weight rows + bias) x 2 bytes (bf16)
    const extra = 3 * 2 * (6 * TINY.headDim * TINY.hidden + 6 * TINY.headDim) * 2;
    assert.equal(index.metadata.total_size, extra, 'total_size grows by the duplicated k/v rows');
    checkRanks(SPLIT_QUERY_PLAN, await readTensors(join(dir, 'src')), await readTensors(out), manifest);
    const before = await forward(join(dir, 'src'), sparse.patterns);
    assert.ok(maxAbsDiff(before, await forward(out, readPatterns(out))) <= 1e-6);
    const gates = readFileSync(join(out, 'duo-attention', 'Tiny.full_attention_heads.tsv'), 'utf8')
      .trim()
      .split('\n');
    assert.ok(
      gates.every((row) => row.split('\t').length === 8),
      'one gate column per output KV head',
    );
  });
});
