/**
 * A Hugging Face checkpoint folder of a Llama, Mistral or Qwen2 model: config.json, one
 * model.safetensors or shards listed by model.safetensors.index.json. Opening it reads only
 * headers and checks every attention tensor's shape against the config before anything is
 * written.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HplbError } from '../errors.ts';
import { openSafetensors, type SafetensorsReader } from '../safetensors/file.ts';
import type { TensorEntry } from '../safetensors/format.ts';

/** Architectures whose attention is `model.layers.{i}.self_attn.{q,k,v,o}_proj`, heads laid out head-major. */
export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2'] as const;

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

export interface ModelShape {
  readonly modelType: string;
  readonly layers: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly hidden: number;
}

/** The attention tensors of one layer, each with the file that holds it. */
export interface LayerTensors {
  readonly q: TensorEntry;
  readonly k: TensorEntry;
  readonly v: TensorEntry;
  readonly o: TensorEntry;
  readonly qBias?: TensorEntry;
  readonly kBias?: TensorEntry;
  readonly vBias?: TensorEntry;
}

export interface Checkpoint {
  readonly dir: string;
  /** config.json, parsed. */
  readonly config: Record<string, unknown>;
  readonly shape: ModelShape;
  /** The safetensors files, in index order (or the single file). */
  readonly files: readonly SafetensorsReader[];
  /** [layers] the attention tensors of each layer. */
  readonly attention: readonly LayerTensors[];
  close(): Promise<void>;
}

function bad(message: string): never {
  throw new HplbError('INVALID_CHECKPOINT', message);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    bad(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Head counts and sizes from config.json; head_dim defaults to hidden_size / num_attention_heads. */
export function modelShape(config: Record<string, unknown>, where: string): ModelShape {
  const modelType = config.model_type;
  if (typeof modelType !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    const supported = SUPPORTED_MODEL_TYPES.join(', ');
    bad(`${where}: model_type ${JSON.stringify(modelType)} is not supported; supported: ${supported}`);
  }
  const int = (key: string, fallback?: number): number => {
    const value = config[key] ?? fallback;
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      bad(`${where}: ${key} must be a positive integer, got ${JSON.stringify(config[key])}`);
    }
    return value as number;
  };
  const hidden = int('hidden_size');
  const queryHeads = int('num_attention_heads');
  const kvHeads = int('num_key_value_heads', queryHeads);
  const headDim = int('head_dim', hidden / queryHeads);
  if (queryHeads % kvHeads !== 0) {
    bad(`${where}: num_attention_heads ${queryHeads} is not a multiple of num_key_value_heads ${kvHeads}`);
  }
  return { modelType, layers: int('num_hidden_layers'), queryHeads, kvHeads, headDim, hidden };
}

/** The safetensors file names of a checkpoint folder, in a stable order. */
function shardNames(dir: string): { names: string[]; weightMap?: Record<string, string> } {
  const indexPath = join(dir, INDEX_FILE);
  if (existsSync(indexPath)) {
    const index = readJson(indexPath) as { weight_map?: unknown };
    const map = index.weight_map;
    const inFolder = (f: unknown): boolean => typeof f === 'string' && !f.includes('/') && f.endsWith('.safetensors');
    if (typeof map !== 'object' || map === null || !Object.values(map).every(inFolder)) {
      bad(`${indexPath}: weight_map must map tensor names to .safetensors file names in the folder`);
    }
    const weightMap = map as Record<string, string>;
    return { names: [...new Set(Object.values(weightMap))].sort(), weightMap };
  }
  if (existsSync(join(dir, SINGLE_FILE))) return { names: [SINGLE_FILE] };
  const found = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  if (found.length === 1) return { names: found };
  return bad(
    `${dir}: expected ${SINGLE_FILE}, or several .safetensors files listed by ${INDEX_FILE}; ` +
      `found ${found.length} .safetensors files and no index`,
  );
}

/**
 * Opens a checkpoint folder: parses config.json and every file header, checks the index against
 * the files and every attention tensor's shape. HplbError INVALID_CHECKPOINT on any mismatch.
 */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) bad(`${dir}: no config.json (a Hugging Face checkpoint folder is expected)`);
  const config = readJson(configPath) as Record<string, unknown>;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    bad(`${configPath}: must be a JSON object`);
  }
  if (config.quantization_config !== undefined) {
    bad(`${configPath}: quantised checkpoints (quantization_config) are not supported`);
  }
  const shape = modelShape(config, configPath);
  const { names, weightMap } = shardNames(dir);
  const files: SafetensorsReader[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(files.map((f) => f.close()));
  };
  try {
    for (const name of names) files.push(await openSafetensors(join(dir, name)));
    if (weightMap !== undefined) {
      const byFile = new Map(names.map((n, i) => [n, files[i]]));
      for (const [tensor, file] of Object.entries(weightMap)) {
        if (byFile.get(file)?.tensor(tensor) === undefined) {
          bad(`${INDEX_FILE} puts ${tensor} in ${file}, which does not hold it`);
        }
      }
      for (const [i, file] of files.entries()) {
        for (const t of file.tensors) {
          if (weightMap[t.name] !== names[i]) {
            bad(`${names[i]} holds ${t.name}, which ${INDEX_FILE} does not list there`);
          }
        }
      }
    }
    const attention = findAttention(dir, shape, files);
    return { dir, config, shape, files, attention, close };
  } catch (error) {
    await close();
    throw error;
  }
}

const ATTENTION = /^model\.layers\.(\d+)\.self_attn\.([qkvo])_proj\.(.+)$/;

/**
 * Every layer's attention tensors, with shapes checked: q [H*d, hidden], k and v [K*d, hidden],
 * o [hidden, H*d]; biases [H*d] and [K*d] for q, k, v (all three or none); an o_proj bias is an
 * ordinary tensor (it is indexed by the hidden size, not by heads).
 */
function findAttention(dir: string, shape: ModelShape, files: readonly SafetensorsReader[]): LayerTensors[] {
  const { layers, queryHeads, kvHeads, headDim, hidden } = shape;
  const found = Array.from({ length: layers }, () => new Map<string, TensorEntry>());
  for (const file of files) {
    for (const t of file.tensors) {
      const match = ATTENTION.exec(t.name);
      if (!match || (match[2] === 'o' && match[3] === 'bias')) continue;
      // Scales or packed weights of a quantised projection are laid out per output row too:
      // copying them unpermuted would silently break the model.
      if (match[3] !== 'weight' && match[3] !== 'bias') {
        bad(`${file.path}: ${t.name}: quantised attention projections are not supported (only weight and bias)`);
      }
      const layer = Number(match[1]);
      if (layer >= layers) bad(`${file.path}: ${t.name} is beyond num_hidden_layers ${layers}`);
      found[layer].set(`${match[2]}.${match[3]}`, t);
    }
  }
  const expect = (layer: number, key: string, want: number[]): TensorEntry => {
    const t = found[layer].get(key);
    const name = `model.layers.${layer}.self_attn.${key.replace('.', '_proj.')}`;
    if (t === undefined) return bad(`${dir}: tensor ${name} is missing`);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      bad(
        `${name} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}] for ${queryHeads} query heads, ` +
          `${kvHeads} KV heads, head_dim ${headDim}, hidden_size ${hidden}`,
      );
    }
    return t;
  };
  return found.map((_, layer) => {
    const biases = ['q', 'k', 'v'].filter((p) => found[layer].has(`${p}.bias`)).length;
    if (biases !== 0 && biases !== 3) bad(`layer ${layer}: q, k and v biases must all be present or all absent`);
    return {
      q: expect(layer, 'q.weight', [queryHeads * headDim, hidden]),
      k: expect(layer, 'k.weight', [kvHeads * headDim, hidden]),
      v: expect(layer, 'v.weight', [kvHeads * headDim, hidden]),
      o: expect(layer, 'o.weight', [hidden, queryHeads * headDim]),
      ...(biases === 3
        ? {
            qBias: expect(layer, 'q.bias', [queryHeads * headDim]),
            kBias: expect(layer, 'k.bias', [kvHeads * headDim]),
            vBias: expect(layer, 'v.bias', [kvHeads * headDim]),
          }
        : {}),
    };
  });
}
