/**
 * Benchmark of `apply` on generated checkpoints of growing size: throughput and peak RSS of the
 * CLI (run as a child process, as a user runs it), next to a plain `cp -r` of the same folder.
 * Peak RSS that stays flat while the checkpoint grows is the point: apply streams.
 *
 *   npm run bench:apply
 *   npm run bench:apply -- --layers 2,8 --dir /tmp/hplb-bench-apply
 *
 * The checkpoints are Llama-shaped (hidden 2048, 16 query heads, 4 KV heads, head dim 128, MLP
 * 4096, vocabulary 8192, bf16, about 68 MB per layer, sharded 4 layers per file) and filled with
 * random bytes: apply moves bytes and never decodes them. They are written under --dir (never in
 * the repository) and reused when already there.
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { positiveIntList } from '../src/cli/options.ts';
import { buildHeader, tensorBytes } from '../src/safetensors/format.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHAPE = { hidden: 2048, queryHeads: 16, kvHeads: 4, headDim: 128, mlp: 4096, vocab: 8192 };
const LAYERS_PER_SHARD = 4;
const GPUS = 4;

type Tensor = { name: string; dtype: string; shape: number[] };

function layerTensors(l: number): Tensor[] {
  const { hidden, queryHeads, kvHeads, headDim, mlp } = SHAPE;
  const p = `model.layers.${l}`;
  const t = (name: string, shape: number[]): Tensor => ({ name: `${p}.${name}`, dtype: 'BF16', shape });
  return [
    t('input_layernorm.weight', [hidden]),
    t('self_attn.q_proj.weight', [queryHeads * headDim, hidden]),
    t('self_attn.k_proj.weight', [kvHeads * headDim, hidden]),
    t('self_attn.v_proj.weight', [kvHeads * headDim, hidden]),
    t('self_attn.o_proj.weight', [hidden, queryHeads * headDim]),
    t('post_attention_layernorm.weight', [hidden]),
    t('mlp.gate_proj.weight', [mlp, hidden]),
    t('mlp.up_proj.weight', [mlp, hidden]),
    t('mlp.down_proj.weight', [hidden, mlp]),
  ];
}

/** Writes a sharded checkpoint of `layers` layers into `dir` with random tensor bytes. */
function writeCheckpoint(dir: string, layers: number): void {
  mkdirSync(dir, { recursive: true });
  const { hidden, vocab } = SHAPE;
  const shards: Tensor[][] = [];
  for (let l = 0; l < layers; l += LAYERS_PER_SHARD) {
    shards.push(Array.from({ length: Math.min(LAYERS_PER_SHARD, layers - l) }, (_, i) => layerTensors(l + i)).flat());
  }
  shards[0].unshift({ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [vocab, hidden] });
  shards
    .at(-1)!
    .push(
      { name: 'model.norm.weight', dtype: 'BF16', shape: [hidden] },
      { name: 'lm_head.weight', dtype: 'BF16', shape: [vocab, hidden] },
    );
  const names = shardNames(shards.length);
  const chunk = Buffer.alloc(8 << 20);
  shards.forEach((tensors, i) => {
    const fd = openSync(join(dir, names[i]), 'w');
    writeSync(fd, buildHeader(tensors, { format: 'pt' }).block);
    let left = tensors.reduce((sum, t) => sum + tensorBytes(t.dtype, t.shape), 0);
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      writeSync(fd, randomFillSync(chunk, 0, n), 0, n);
      left -= n;
    }
    closeSync(fd);
  });
  const weightMap = Object.fromEntries(shards.flatMap((tensors, i) => tensors.map((t) => [t.name, names[i]])));
  const index = { metadata: { total_size: 0 }, weight_map: weightMap };
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify(
      {
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        hidden_size: hidden,
        intermediate_size: SHAPE.mlp,
        num_attention_heads: SHAPE.queryHeads,
        num_key_value_heads: SHAPE.kvHeads,
        head_dim: SHAPE.headDim,
        num_hidden_layers: layers,
        vocab_size: vocab,
        torch_dtype: 'bfloat16',
      },
      null,
      2,
    ),
  );
}

function shardNames(count: number): string[] {
  const pad = (i: number): string => String(i).padStart(5, '0');
  return Array.from({ length: count }, (_, i) => `model-${pad(i + 1)}-of-${pad(count)}.safetensors`);
}

/** A kv-group plan on 4 GPUs with a different rotation of the KV groups in every layer. */
function writePlan(path: string, layers: number): void {
  const units = SHAPE.kvHeads;
  const plan = {
    id: 'b'.repeat(32),
    model: { id: null },
    gpus: { count: GPUS },
    granularity: 'kv-group',
    layers: Array.from({ length: layers }, (_, layer) => {
      const permutation = Array.from({ length: units }, (_, s) => (s + layer + 1) % units);
      return { layer, permutation, gpu2units: permutation.map((u) => [u]) };
    }),
  };
  writeFileSync(path, JSON.stringify(plan));
}

function folderBytes(dir: string, names: string[]): number {
  return names.reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
}

interface Row {
  layers: number;
  checkpointMB: number;
  applySeconds: number;
  applyMBps: number;
  /** The CLI's own figure: tensor bytes over the time from the plan loaded to the manifest written. */
  rewriteMBps: number;
  peakRssMB: number;
  cpSeconds: number;
  cpMBps: number;
  loadBefore: number;
}

function run(dir: string, layers: number): Row {
  const src = join(dir, `src-${layers}`);
  if (!existsSync(join(src, 'config.json'))) writeCheckpoint(src, layers);
  const shards = Math.ceil(layers / LAYERS_PER_SHARD);
  const names = shardNames(shards);
  const bytes = folderBytes(src, names);
  const planPath = join(dir, `plan-${layers}.json`);
  writePlan(planPath, layers);
  const out = join(dir, `out-${layers}`);
  const copy = join(dir, `copy-${layers}`);
  rmSync(out, { recursive: true, force: true });
  rmSync(copy, { recursive: true, force: true });
  const loadBefore = loadavg()[0];

  let started = performance.now();
  const cp = spawnSync('cp', ['-r', src, copy]);
  const cpSeconds = (performance.now() - started) / 1000;
  if (cp.status !== 0) throw new Error(`cp failed: ${cp.stderr}`);
  rmSync(copy, { recursive: true, force: true });

  started = performance.now();
  const argv = ['--import', 'tsx', 'src/cli/main.ts', 'apply', '--plan', planPath, '--checkpoint', src, '--out', out];
  const apply = spawnSync(process.execPath, argv, { cwd: REPO_ROOT, encoding: 'utf8' });
  const applySeconds = (performance.now() - started) / 1000;
  if (apply.status !== 0) throw new Error(`apply failed: ${apply.stderr}`);
  const rss = /peak RSS ([\d.]+) MB/.exec(apply.stdout);
  const own = /\(([\d.]+) MB\/s\)/.exec(apply.stdout);
  rmSync(out, { recursive: true, force: true });
  return {
    layers,
    checkpointMB: bytes / 1e6,
    applySeconds,
    applyMBps: bytes / 1e6 / applySeconds,
    rewriteMBps: Number(own?.[1]),
    peakRssMB: Number(rss?.[1]),
    cpSeconds,
    cpMBps: bytes / 1e6 / cpSeconds,
    loadBefore,
  };
}

const options = new Command('bench:apply')
  .option('--layers <list>', 'checkpoint sizes, in layers (about 68 MB each)', positiveIntList, [2, 8])
  .option('--dir <dir>', 'where the generated checkpoints live (outside the repository)', '/tmp/hplb-bench-apply')
  .option('--out <file>', 'JSON results', join(REPO_ROOT, 'bench', 'results', 'apply.json'))
  .parse()
  .opts<{ layers: number[]; dir: string; out: string }>();

const rows = options.layers.map((layers) => run(options.dir, layers));
const f = (x: number, digits = 1): string => x.toFixed(digits);
console.log(
  '| layers | checkpoint MB | apply s | apply MB/s | rewrite MB/s | peak RSS MB | cp -r s | cp -r MB/s | apply / cp | load |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const cells = [
    r.layers,
    f(r.checkpointMB),
    f(r.applySeconds, 2),
    f(r.applyMBps),
    f(r.rewriteMBps),
    f(r.peakRssMB),
    f(r.cpSeconds, 2),
    f(r.cpMBps),
    `${f(r.applySeconds / r.cpSeconds, 2)}x`,
    f(r.loadBefore, 2),
  ];
  console.log(`| ${cells.join(' | ')} |`);
}
mkdirSync(dirname(options.out), { recursive: true });
writeFileSync(options.out, `${JSON.stringify({ shape: SHAPE, gpus: GPUS, rows }, null, 2)}\n`);
console.log(
  "\napply MB/s: the checkpoint's tensor bytes over the whole CLI run (start-up included); rewrite MB/s: the CLI's " +
    `own figure, from the plan loaded to the manifest written (hashing every file included). Written ${options.out}`,
);
