import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applyPlan, MANIFEST_FILE, type ApplyOptions } from '../../src/apply/apply.ts';
import type { HplbError } from '../../src/errors.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { KV_GROUP_PLAN, planOf, writeSparseConfigs } from './plans.ts';
import { writeTinyCheckpoint } from './tiny-model.ts';

interface Case {
  readonly name: string;
  /** Breaks the fresh checkpoint folder `src` (and its sibling files) and returns overrides. */
  readonly spoil: (dir: string, src: string) => Partial<ApplyOptions>;
  readonly code: string;
  readonly message: RegExp;
}

function setHeaderLength(file: string, length: bigint): void {
  const bytes = readFileSync(file);
  bytes.writeBigUInt64LE(length, 0);
  writeFileSync(file, bytes);
}

function editConfig(src: string, change: Record<string, unknown>): void {
  const path = join(src, 'config.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...change }));
}

const registry = loadRegistry();

const CASES: Case[] = [
  {
    name: 'a header length past the end of the file',
    spoil: (_dir, src) => {
      setHeaderLength(join(src, 'model-00002-of-00002.safetensors'), 1n << 40n);
      return {};
    },
    code: 'INVALID_CHECKPOINT',
    message: /model-00002-of-00002\.safetensors: header length 1099511627776 runs past the end of the file/,
  },
  {
    name: 'a truncated tensor buffer',
    spoil: (_dir, src) => {
      const file = join(src, 'model-00001-of-00002.safetensors');
      truncateSync(file, readFileSync(file).length - 3);
      return {};
    },
    code: 'INVALID_CHECKPOINT',
    message: /tensors end at byte \d+ but the file has \d+ bytes/,
  },
  {
    name: 'trailing bytes after the last tensor',
    spoil: (_dir, src) => {
      appendFileSync(join(src, 'model-00002-of-00002.safetensors'), Buffer.alloc(5));
      return {};
    },
    code: 'INVALID_CHECKPOINT',
    message: /tensors end at byte \d+ but the file has \d+ bytes/,
  },
  {
    name: 'a tensor of the wrong shape for config.json',
    spoil: (_dir, src) => {
      editConfig(src, { num_key_value_heads: 4 });
      return {};
    },
    code: 'INVALID_CHECKPOINT',
    message: /model\.layers\.0\.self_attn\.k_proj\.weight has shape \[32, 128\], expected \[64, 128\]/,
  },
  {
    name: 'an index naming a tensor its file does not hold',
    spoil: (_dir, src) => {
      const path = join(src, 'model.safetensors.index.json');
      const index = JSON.parse(readFileSync(path, 'utf8'));
      index.weight_map['model.norm.weight'] = 'model-00001-of-00002.safetensors';
      writeFileSync(path, JSON.stringify(index));
      return {};
    },
    code: 'INVALID_CHECKPOINT',
    message: /puts model\.norm\.weight in model-00001-of-00002\.safetensors, which does not hold it/,
  },
  {
    name: 'an unsupported architecture',
    spoil: (_dir, src) => {
      editConfig(src, { model_type: 'gpt2' });
      return {};
    },
    code: 'INVALID_CHECKPOINT',
    message: /model_type "gpt2" is not supported; supported: llama, mistral, qwen2/,
  },
  {
    name: 'a quantised checkpoint',
    spoil: (_dir, src) => {
      editConfig(src, { quantization_config: { quant_method: 'fp8' } });
      return {};
    },
    code: 'INVALID_CHECKPOINT',
    message: /quantised checkpoints \(quantization_config\) are not supported/,
  },
  {
    name: 'a checkpoint that apply already rewrote',
    spoil: (_dir, src) => {
      writeFileSync(join(src, MANIFEST_FILE), '{}');
      return {};
    },
    code: 'INVALID_CHECKPOINT',
    message: /this checkpoint was written by apply; apply plans to the original one/,
  },
  {
    name: 'a file that shrinks while it is rewritten',
    // The architecture lookup runs after the headers are read and before the first write; small
    // chunks make the failing read a read-ahead.
    spoil: (_dir, src) => ({
      plan: { ...KV_GROUP_PLAN, model: { id: 'tiny' } },
      chunkBytes: 256,
      modelArchitecture: () => {
        const file = join(src, 'model-00002-of-00002.safetensors');
        truncateSync(file, readFileSync(file).length - 100);
        return undefined;
      },
    }),
    code: 'INVALID_CHECKPOINT',
    message: /model-00002-of-00002\.safetensors: file ends at byte \d+, expected \d+ more bytes/,
  },
  {
    name: 'a plan with another layer count',
    spoil: () => ({
      plan: planOf('kv-group', 2, [
        [1, 0],
        [0, 1],
      ]),
    }),
    code: 'PLAN_MISMATCH',
    message: /the plan has 2 layers, the model has 3/,
  },
  {
    name: 'a plan for another model',
    spoil: () => ({
      plan: { ...KV_GROUP_PLAN, model: { id: 'llama-3-8b-instruct-262k-minference' } },
      modelArchitecture: (id) => registry.get(id)?.architecture,
    }),
    code: 'PLAN_MISMATCH',
    message: new RegExp(
      'the plan is for model llama-3-8b-instruct-262k-minference ' +
        '\\(32 layers, 32 query heads, 8 KV heads, head dim 128\\); ' +
        'the checkpoint has 3 layers, 8 query heads, 2 KV heads, head dim 16',
    ),
  },
  {
    name: 'a plan with another head count',
    spoil: () => ({
      plan: planOf('kv-group', 2, [
        [1, 0, 2, 3],
        [0, 1, 2, 3],
        [1, 0, 2, 3],
      ]),
    }),
    code: 'PLAN_MISMATCH',
    message: /layer 0 places 4 units but the model has 2 KV heads/,
  },
  {
    name: 'a plan with unequal heads per GPU',
    spoil: () => ({
      plan: {
        ...KV_GROUP_PLAN,
        layers: KV_GROUP_PLAN.layers.map((l) => ({ ...l, gpu2units: [[0, 1], []] })),
      },
    }),
    code: 'PLAN_MISMATCH',
    message: /contiguous tensor-parallel sharding needs exactly 1 on each of 2 \(plan with unitsPerGpu=equal\)/,
  },
  {
    name: 'a MInference config for another head count',
    spoil: (dir) => {
      const { minference } = writeSparseConfigs(dir);
      const layers = JSON.parse(readFileSync(minference, 'utf8'));
      delete layers[1]['7'];
      writeFileSync(minference, JSON.stringify(layers));
      return { minferenceConfig: minference };
    },
    code: 'INVALID_PROBLEM',
    message: /layer 1 must map each of the 8 query heads to its pattern/,
  },
  {
    name: 'a DuoAttention table with a missing column',
    spoil: (dir) => {
      const { duo } = writeSparseConfigs(dir);
      writeFileSync(join(duo, 'Tiny.full_attention_heads.tsv'), '1\t0\n1\n0\t1\n');
      return { duoAttentionDir: duo };
    },
    code: 'INVALID_PROBLEM',
    message: /row 1 has 1 columns, expected 2 \(KV heads\)/,
  },
];

describe('apply refuses bad inputs and leaves no output behind', () => {
  for (const c of CASES) {
    it(`refuses ${c.name}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hplb-apply-bad-'));
      const src = join(dir, 'src');
      writeTinyCheckpoint(src, { dtype: 'F32', shards: 2 });
      const overrides = c.spoil(dir, src);
      const out = join(dir, 'out');
      const applied = applyPlan({ plan: KV_GROUP_PLAN, checkpointDir: src, outDir: out, ...overrides });
      await assert.rejects(applied, (error: HplbError) => {
        assert.equal(error.code, c.code, error.message);
        assert.match(error.message, c.message);
        return true;
      });
      assert.equal(existsSync(out), false, 'no output folder');
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.includes('.partial-')),
        [],
        'no partial folder',
      );
    });
  }

  it('never writes into an existing folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hplb-apply-bad-'));
    writeTinyCheckpoint(join(dir, 'src'), { dtype: 'F32', shards: 1 });
    mkdirSync(join(dir, 'out'));
    const applied = applyPlan({ plan: KV_GROUP_PLAN, checkpointDir: join(dir, 'src'), outDir: join(dir, 'out') });
    await assert.rejects(applied, /output folder .* already exists/);
    assert.deepEqual(readdirSync(join(dir, 'out')), []);
  });
});
