/**
 * A tiny Llama/Qwen2-shaped checkpoint written for tests, and the attention block of the model
 * computed from a checkpoint folder: projections, RoPE, causal attention of every head with its
 * own sparse pattern through the reference kernel (src/kernel), o_proj.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../src/safetensors/file.ts';
import { buildHeader } from '../../src/safetensors/format.ts';
import { buildRowIndex, indexMask, type AttentionPattern } from '../../src/kernel/pattern.ts';
import { maskedAttention } from '../../src/kernel/reference.ts';
import { createRandom } from '../../src/random.ts';

export const TINY = { layers: 3, queryHeads: 8, kvHeads: 2, headDim: 16, hidden: 128, vocab: 24 } as const;

/** Deterministic uniform numbers in [-1, 1) (mulberry32, src/random.ts). */
export function seeded(seed: number): () => number {
  const uniform = createRandom(seed);
  return () => uniform() * 2 - 1;
}

/** float32 -> bfloat16 bits, round to nearest even. */
function toBf16(x: number): number {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Tensor dtypes the tiny checkpoint can be written in; F8_E4M3 bytes are arbitrary (apply never decodes). */
export type TinyDtype = 'F32' | 'BF16' | 'F8_E4M3';

function encode(values: Float32Array, dtype: TinyDtype): Buffer {
  if (dtype === 'F32') return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  if (dtype === 'F8_E4M3') return Buffer.from(values.map((v) => Math.round((v + 0.2) * 600) & 0xff));
  const out = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => out.writeUInt16LE(toBf16(v), i * 2));
  return out;
}

/** Decodes F32 or BF16 bytes to float32 values. */
export function decode(bytes: Buffer, dtype: string): Float32Array {
  if (dtype === 'F32') return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  if (dtype !== 'BF16') throw new Error(`test decoder has no ${dtype}`);
  const bits = new Uint32Array(bytes.length / 2);
  for (let i = 0; i < bits.length; i++) bits[i] = bytes.readUInt16LE(i * 2) << 16;
  return new Float32Array(bits.buffer);
}

export interface TinyOptions {
  readonly dtype: TinyDtype;
  /** 1: model.safetensors; 2: two shards and model.safetensors.index.json. */
  readonly shards: 1 | 2;
  /** Qwen2 (q/k/v biases) instead of Llama. */
  readonly qwen2?: boolean;
  readonly seed?: number;
}

/** Writes the tiny checkpoint into `dir` (created). */
export function writeTinyCheckpoint(dir: string, options: TinyOptions): void {
  const { layers, queryHeads, kvHeads, headDim, hidden, vocab } = TINY;
  const random = seeded(options.seed ?? 7);
  const tensor = (name: string, shape: number[], dtype: string = options.dtype) => {
    const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 0.2);
    return { name, dtype, shape, data: encode(values, dtype as TinyDtype) };
  };
  const all = [tensor('model.embed_tokens.weight', [vocab, hidden])];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    all.push(tensor(`${p}.input_layernorm.weight`, [hidden]));
    all.push(tensor(`${p}.self_attn.q_proj.weight`, [queryHeads * headDim, hidden]));
    all.push(tensor(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden]));
    all.push(tensor(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden]));
    if (options.qwen2) {
      all.push(tensor(`${p}.self_attn.q_proj.bias`, [queryHeads * headDim]));
      all.push(tensor(`${p}.self_attn.k_proj.bias`, [kvHeads * headDim]));
      all.push(tensor(`${p}.self_attn.v_proj.bias`, [kvHeads * headDim]));
    }
    all.push(tensor(`${p}.self_attn.o_proj.weight`, [hidden, queryHeads * headDim]));
    all.push(tensor(`${p}.mlp.down_proj.weight`, [hidden, 8]));
  }
  all.push(tensor('model.norm.weight', [hidden], 'F32'), tensor('lm_head.weight', [vocab, hidden]));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify(
      {
        architectures: [options.qwen2 ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
        model_type: options.qwen2 ? 'qwen2' : 'llama',
        hidden_size: hidden,
        num_attention_heads: queryHeads,
        num_key_value_heads: kvHeads,
        head_dim: headDim,
        num_hidden_layers: layers,
        rope_theta: 10000,
        torch_dtype: { F32: 'float32', BF16: 'bfloat16', F8_E4M3: 'float8_e4m3fn' }[options.dtype],
      },
      null,
      2,
    ),
  );
  writeFileSync(join(dir, 'tokenizer.json'), '{"version": "1.0"}\n');
  const half = Math.ceil(all.length / 2);
  const split = options.shards === 1 ? [all] : [all.slice(0, half), all.slice(half)];
  const shardName = (i: number): string => `model-0000${i + 1}-of-00002.safetensors`;
  const names = split.map((_, i) => (options.shards === 1 ? 'model.safetensors' : shardName(i)));
  split.forEach((tensors, i) => {
    const { block } = buildHeader(tensors, { format: 'pt' });
    writeFileSync(join(dir, names[i]), Buffer.concat([block, ...tensors.map((t) => t.data)]));
  });
  if (options.shards === 2) {
    const weightMap = Object.fromEntries(split.flatMap((tensors, i) => tensors.map((t) => [t.name, names[i]])));
    const index = { metadata: { total_size: 0 }, weight_map: weightMap };
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2));
  }
}

export type TensorBytes = { dtype: string; shape: number[]; bytes: Buffer };

/** Every tensor of a checkpoint folder, by name. */
export async function readTensors(dir: string): Promise<Map<string, TensorBytes>> {
  const index = (() => {
    try {
      const text = readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8');
      return JSON.parse(text) as { weight_map: Record<string, string> };
    } catch {
      return undefined;
    }
  })();
  const files = index ? [...new Set(Object.values(index.weight_map))] : ['model.safetensors'];
  const out = new Map<string, TensorBytes>();
  for (const file of files) {
    const reader = await openSafetensors(join(dir, file));
    for (const t of reader.tensors) {
      const bytes = Buffer.alloc(t.end - t.begin);
      await reader.read(t.begin, bytes.length, bytes);
      out.set(t.name, { dtype: t.dtype, shape: [...t.shape], bytes });
    }
    await reader.close();
  }
  return out;
}

/** A MInference-style pattern entry of the tiny model: ["stream_llm", sink, recent, score]. */
export type PatternEntry = [string, number, number, number];

function toPattern(entry: PatternEntry): AttentionPattern {
  if (entry[0] !== 'stream_llm') throw new Error(`the tiny model's forward knows stream_llm only, got ${entry[0]}`);
  return { kind: 'streaming', sink: entry[1], recent: entry[2] };
}

/** Rotary embedding (Llama's rotate_half form) of one head vector at `position`, in place. */
function rope(vec: Float64Array, offset: number, d: number, position: number, theta: number): void {
  const half = d / 2;
  for (let i = 0; i < half; i++) {
    const angle = position / theta ** ((2 * i) / d);
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    const [a, b] = [vec[offset + i], vec[offset + i + half]];
    vec[offset + i] = a * c - b * s;
    vec[offset + i + half] = b * c + a * s;
  }
}

/**
 * x [n * hidden] through every layer's attention block with a residual (x += attn(x)), reading
 * weights from `dir`; `patterns[layer]` maps query head "h" to its entry. Returns x, [n * hidden].
 */
export async function attentionForward(
  dir: string,
  x: Float64Array,
  n: number,
  patterns: Record<string, PatternEntry>[],
): Promise<Float64Array> {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const tensors = await readTensors(dir);
  const { hidden_size: hidden, num_attention_heads: H, num_key_value_heads: K, head_dim: d } = config;
  const layers: number = config.num_hidden_layers;
  const weight = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    return decode(t.bytes, t.dtype);
  };
  const project = (w: Float32Array, bias: Float32Array | undefined, rows: number): Float64Array => {
    const out = new Float64Array(n * rows);
    for (let t = 0; t < n; t++) {
      for (let r = 0; r < rows; r++) {
        let sum = bias ? bias[r] : 0;
        for (let c = 0; c < hidden; c++) sum += x[t * hidden + c] * w[r * hidden + c];
        out[t * rows + r] = sum;
      }
    }
    return out;
  };
  // One head's rows out of [n, heads * d]: the kernel takes a head as [n, d] float32.
  const head = (m: Float64Array, heads: number, h: number): Float32Array =>
    Float32Array.from({ length: n * d }, (_, i) => m[Math.floor(i / d) * heads * d + h * d + (i % d)]);
  x = Float64Array.from(x);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.self_attn`;
    const bias = (name: string) => (tensors.has(`${p}.${name}.bias`) ? weight(`${p}.${name}.bias`) : undefined);
    const q = project(weight(`${p}.q_proj.weight`), bias('q_proj'), H * d);
    const k = project(weight(`${p}.k_proj.weight`), bias('k_proj'), K * d);
    const v = project(weight(`${p}.v_proj.weight`), bias('v_proj'), K * d);
    for (let t = 0; t < n; t++) {
      for (let h = 0; h < H; h++) rope(q, t * H * d + h * d, d, t, config.rope_theta);
      for (let h = 0; h < K; h++) rope(k, t * K * d + h * d, d, t, config.rope_theta);
    }
    const heads = new Float64Array(n * H * d);
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / (H / K));
      const shape = { n, causal: true };
      const mask = indexMask(buildRowIndex(toPattern(patterns[l][String(h)]), shape));
      const out = maskedAttention({ ...shape, d, q: head(q, H, h), k: head(k, K, kv), v: head(v, K, kv) }, mask);
      for (let i = 0; i < n * d; i++) heads[Math.floor(i / d) * H * d + h * d + (i % d)] = out[i];
    }
    const o = weight(`${p}.o_proj.weight`);
    const next = Float64Array.from(x);
    for (let t = 0; t < n; t++) {
      for (let r = 0; r < hidden; r++) {
        let sum = 0;
        for (let c = 0; c < H * d; c++) sum += heads[t * H * d + c] * o[r * H * d + c];
        next[t * hidden + r] += sum;
      }
    }
    x = next;
  }
  return x;
}
