/**
 * `apply`: writes a checkpoint whose heads are reordered so that a serving engine's unmodified
 * contiguous tensor-parallel split puts the plan's heads on each rank, plus the sparse configs
 * in the same order and a manifest. Everything is checked before the first byte is written; the
 * output is built in a sibling folder and renamed into place at the end, so a failure leaves no
 * output folder behind.
 */
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HplbError } from '../errors.ts';
import type { Architecture } from '../profiles/profile.ts';
import { sha256File, type WrittenFile } from '../safetensors/file.ts';
import { INDEX_FILE, openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { headOrder, rankHeads, type HeadOrder, type PlanLike, type RankHeads } from './head-order.ts';
import { attentionRoles, rewriteFile } from './rewrite.ts';
import { prepareSparseConfigs } from './sparse-configs.ts';

export const MANIFEST_FILE = 'hplb-manifest.json';
export const MANIFEST_FORMAT = 'hplb-apply-manifest/1';
const DEFAULT_CHUNK_BYTES = 8 << 20;

export interface ApplyOptions {
  readonly plan: PlanLike;
  readonly checkpointDir: string;
  /** Must not exist yet. */
  readonly outDir: string;
  /** Duplicate KV heads when a query-head plan needs it (otherwise such a plan is refused). */
  readonly expandKv?: boolean;
  /**
   * Write the checkpoint even when the engine's fixed query-to-KV mapping makes it hold more KV
   * than the plan stores (otherwise such a plan is refused: apply writes exactly the plan's groups).
   */
  readonly allowExtraKv?: boolean;
  /** A MInference per-head config (JSON list of layers) to rewrite in the new order. */
  readonly minferenceConfig?: string;
  /** A DuoAttention pattern folder (*full_attention_heads.tsv, config.json) to rewrite. */
  readonly duoAttentionDir?: string;
  /** Working buffer size, bytes (two are used); 8 MiB by default. */
  readonly chunkBytes?: number;
  /** The architecture of a registry model id, to check the checkpoint is the plan's model. */
  readonly modelArchitecture?: (modelId: string) => Architecture | undefined;
}

export interface FileRecord {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface Manifest {
  readonly format: string;
  readonly planId: string;
  readonly model: string | null;
  readonly modelType: string;
  readonly granularity: PlanLike['granularity'];
  /** The engine's tensor-parallel size to run the output with: the plan's GPU count. */
  readonly tensorParallelSize: number;
  readonly source: { queryHeads: number; kvHeads: number; headDim: number; files: FileRecord[] };
  /**
   * kvCacheFactor: per-GPU KV-cache memory over the source's (above 1 only with duplicated KV
   * heads); planKvCacheFactor: the plan's own (head-order.ts), equal to it unless the engine's
   * query-to-KV mapping forces copies the plan does not need.
   */
  readonly output: {
    queryHeads: number;
    kvHeads: number;
    kvCacheFactor: number;
    planKvCacheFactor: number;
    files: FileRecord[];
  };
  /** Entries of the source folder not carried over (sub-folders, stray .safetensors files). */
  readonly skipped: string[];
  readonly layers: { layer: number; queryHeads: number[]; kvHeads: number[]; ranks: RankHeads[] }[];
}

export interface ApplyResult {
  readonly manifest: Manifest;
  /** Bytes of source safetensors files read and of output files written. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

function checkModel(plan: PlanLike, checkpoint: Checkpoint, architecture: ApplyOptions['modelArchitecture']): void {
  const known = plan.model.id === null ? undefined : architecture?.(plan.model.id);
  if (known === undefined) return;
  const s = checkpoint.shape;
  const describe = (a: { layers: number; queryHeads: number; kvHeads: number; headDim: number }): string =>
    `${a.layers} layers, ${a.queryHeads} query heads, ${a.kvHeads} KV heads, head dim ${a.headDim}`;
  const [theirs, ours] = [describe(known), describe(s)];
  if (theirs !== ours) {
    const message = `the plan is for model ${plan.model.id} (${theirs}); the checkpoint has ${ours}`;
    throw new HplbError('PLAN_MISMATCH', message, { pointer: '/model/id' });
  }
}

/** Rewrites the checkpoint; see the module comment. HplbError on any bad input, with no output left. */
export async function applyPlan(options: ApplyOptions): Promise<ApplyResult> {
  const { plan, outDir } = options;
  if (existsSync(outDir)) {
    const message = `output folder ${outDir} already exists; name a new one`;
    throw new HplbError('INVALID_PROBLEM', message, { pointer: '/out' });
  }
  if (!existsSync(dirname(resolve(outDir)))) {
    throw new HplbError('INVALID_PROBLEM', `the parent of ${outDir} does not exist`, { pointer: '/out' });
  }
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) {
    throw new HplbError('INVALID_PROBLEM', `chunkBytes must be a positive integer, got ${chunkBytes}`);
  }
  const previous = join(options.checkpointDir, MANIFEST_FILE);
  if (existsSync(previous)) {
    // A plan's head order is relative to the original checkpoint: applying it again would compose two orders.
    const message = `${previous}: this checkpoint was written by apply; apply plans to the original one`;
    throw new HplbError('INVALID_CHECKPOINT', message);
  }
  const checkpoint = await openCheckpoint(options.checkpointDir);
  const partial = `${resolve(outDir)}.partial-${randomBytes(4).toString('hex')}`;
  try {
    checkModel(plan, checkpoint, options.modelArchitecture);
    const order = headOrder(plan, checkpoint.shape, { expandKv: options.expandKv });
    if (!options.allowExtraKv) checkExactKv(order);
    const sparse = { minference: options.minferenceConfig, duoAttention: options.duoAttentionDir };
    const configs = prepareSparseConfigs(sparse, order);
    mkdirSync(partial);
    const result = await writeOutput({ ...options, chunkBytes }, checkpoint, order, configs, partial);
    renameSync(partial, outDir);
    return result;
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  } finally {
    await checkpoint.close();
  }
}

async function writeOutput(
  options: ApplyOptions,
  checkpoint: Checkpoint,
  order: HeadOrder,
  configs: ReturnType<typeof prepareSparseConfigs>,
  partial: string,
): Promise<ApplyResult> {
  const { plan, chunkBytes = DEFAULT_CHUNK_BYTES } = options;
  const expanded = order.outputKvHeads !== order.kvHeads;
  const roles = attentionRoles(checkpoint.attention);
  const tensorFiles = new Map(checkpoint.files.map((f) => [basename(f.path), f]));
  const source: FileRecord[] = [];
  const output: FileRecord[] = [];
  const skipped: string[] = [];
  let bytesRead = 0;
  const record = (list: FileRecord[], path: string, written: WrittenFile): void => {
    list.push({ path, bytes: written.bytes, sha256: written.sha256 });
  };
  const hashed = async (path: string, full: string): Promise<FileRecord> => ({
    path,
    bytes: statSync(full).size,
    sha256: await sha256File(full),
  });
  for (const entry of readdirSync(checkpoint.dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const from = join(checkpoint.dir, entry.name);
    const to = join(partial, entry.name);
    if (!entry.isFile()) {
      skipped.push(`${entry.name}${entry.isDirectory() ? '/' : ''}`);
      continue;
    }
    const reader = tensorFiles.get(entry.name);
    if (reader === undefined && entry.name.endsWith('.safetensors')) {
      skipped.push(entry.name);
      continue;
    }
    if (reader !== undefined) {
      bytesRead += reader.fileBytes;
      // Hashing the source alongside the rewrite reads the file while the page cache still holds it.
      const [hash, written] = await Promise.all([
        hashed(entry.name, from),
        rewriteFile(reader, to, { order, roles, chunkBytes }),
      ]);
      source.push(hash);
      record(output, entry.name, written);
      continue;
    }
    source.push(await hashed(entry.name, from));
    if (expanded && entry.name === 'config.json') {
      const config = { ...checkpoint.config, num_key_value_heads: order.outputKvHeads };
      writeFileSync(to, `${JSON.stringify(config, null, 2)}\n`);
    } else if (expanded && entry.name === INDEX_FILE) {
      writeFileSync(to, `${JSON.stringify(expandedIndex(from, checkpoint, order), null, 2)}\n`);
    } else {
      copyFileSync(from, to);
    }
    output.push(await hashed(entry.name, to));
  }
  for (const file of configs) {
    const to = join(partial, file.path);
    mkdirSync(dirname(to), { recursive: true });
    if ('text' in file) writeFileSync(to, file.text);
    else copyFileSync(file.copyFrom, to);
    output.push(await hashed(file.path, to));
  }
  const ranks = rankHeads(plan, order);
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    planId: plan.id,
    model: plan.model.id,
    modelType: checkpoint.shape.modelType,
    granularity: plan.granularity,
    tensorParallelSize: order.gpus,
    source: { queryHeads: order.queryHeads, kvHeads: order.kvHeads, headDim: checkpoint.shape.headDim, files: source },
    output: {
      queryHeads: order.queryHeads,
      kvHeads: order.outputKvHeads,
      kvCacheFactor: order.kvCacheFactor,
      planKvCacheFactor: order.planKvCacheFactor,
      files: output,
    },
    skipped,
    layers: order.layers.map((l, i) => ({ ...l, ranks: ranks[i].ranks })),
  };
  writeFileSync(join(partial, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, bytesRead, bytesWritten: output.reduce((sum, f) => sum + f.bytes, 0) };
}

/**
 * Refuses a head order whose checkpoint would hold more KV per GPU than the plan stores: vLLM
 * gives every rank the same number of KV heads in every layer, and each KV head an equal block of
 * the rank's query heads, so a plan whose GPUs hold groups unevenly (some two heads of one group
 * and one of another, or more groups in one layer than in the next) needs copies it did not count.
 */
function checkExactKv(order: HeadOrder): void {
  if (order.kvCacheFactor <= order.planKvCacheFactor * (1 + 1e-9)) return;
  throw new HplbError(
    'PLAN_MISMATCH',
    `this plan stores ${order.planKvCacheFactor.toFixed(3)}x the contiguous KV cache, but the engine's fixed ` +
      `query-to-KV mapping needs ${order.outputKvHeads} KV heads for it, ${order.kvCacheFactor}x per GPU: its GPUs ` +
      'do not each hold the same number of KV groups with equal query heads in every layer. Plan with ' +
      'maxKvCacheFactor 1 (the default, always written exactly), or pass --allow-extra-kv to write it with the copies',
    { pointer: '/totals/kvCacheFactor', rule: 'exactKv' },
  );
}

/** The index with metadata.total_size grown by the duplicated KV rows (the weight map is unchanged). */
function expandedIndex(path: string, checkpoint: Checkpoint, order: HeadOrder): unknown {
  const index = JSON.parse(readFileSync(path, 'utf8')) as { metadata?: { total_size?: unknown } };
  const grow = order.outputKvHeads / order.kvHeads - 1;
  let extra = 0;
  for (const l of checkpoint.attention) {
    for (const t of [l.k, l.v, l.kBias, l.vBias]) if (t) extra += (t.end - t.begin) * grow;
  }
  if (typeof index.metadata?.total_size === 'number') index.metadata.total_size += extra;
  return index;
}
