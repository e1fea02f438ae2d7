/**
 * Per-head sparse-attention configurations rewritten in a checkpoint's new head order, in the
 * formats of their sources (see ../shared/data/README.md):
 *   MInference: a JSON list, one object per layer mapping query head "h" to its pattern entry;
 *     output head "j" gets the entry of source head queryHeads[j].
 *   DuoAttention: <name>full_attention_heads.tsv, one row per layer, one column per KV head;
 *     output column b is source column kvHeads[b] (values copied as text, so unchanged). Other
 *     files of the folder (its config.json) are copied unchanged.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { HplbError } from '../errors.ts';
import type { HeadOrder } from './head-order.ts';

function bad(message: string): never {
  throw new HplbError('INVALID_PROBLEM', message);
}

/** Checks and reorders a MInference head config; returns the new JSON text. */
export function reorderMinference(text: string, order: HeadOrder, where: string): string {
  let layers: unknown;
  try {
    layers = JSON.parse(text);
  } catch (error) {
    bad(`${where}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!Array.isArray(layers) || layers.length !== order.layers.length) {
    const got = Array.isArray(layers) ? layers.length : typeof layers;
    bad(`${where}: expected a JSON list of ${order.layers.length} layer objects, got ${got}`);
  }
  const out = layers.map((layer: unknown, l) => {
    const heads = layer as Record<string, unknown>;
    if (typeof heads !== 'object' || heads === null || Object.keys(heads).length !== order.queryHeads) {
      bad(`${where}: layer ${l} must map each of the ${order.queryHeads} query heads to its pattern`);
    }
    const next: Record<string, unknown> = {};
    order.layers[l].queryHeads.forEach((from, j) => {
      if (!(String(from) in heads)) bad(`${where}: layer ${l} has no entry for head "${from}"`);
      next[String(j)] = heads[String(from)];
    });
    return next;
  });
  return `${JSON.stringify(out)}\n`;
}

/** Checks and reorders a DuoAttention gate table (rows = layers, columns = source KV heads). */
export function reorderDuoGates(text: string, order: HeadOrder, where: string): string {
  const rows = text.split('\n').filter((line) => line.trim() !== '');
  if (rows.length !== order.layers.length) {
    bad(`${where}: expected ${order.layers.length} rows (layers), got ${rows.length}`);
  }
  return `${rows
    .map((row, l) => {
      const cells = row.split('\t');
      if (cells.length !== order.kvHeads) {
        bad(`${where}: row ${l} has ${cells.length} columns, expected ${order.kvHeads} (KV heads)`);
      }
      if (!cells.every((c) => Number.isFinite(Number(c)) && c.trim() !== '')) {
        bad(`${where}: row ${l} holds a non-numeric gate`);
      }
      return order.layers[l].kvHeads.map((from) => cells[from]).join('\t');
    })
    .join('\n')}\n`;
}

/** Sub-folders of the output that hold the rewritten configs (a checkpoint's own files are never in sub-folders). */
export const MINFERENCE_FOLDER = 'minference';
export const DUO_FOLDER = 'duo-attention';

/** A file to write into the output: new text, or a copy of a source file. Paths are relative to the output. */
export type ConfigFile =
  | { readonly path: string; readonly text: string }
  | { readonly path: string; readonly copyFrom: string };

/**
 * Reads, checks and reorders the sparse configs before anything is written: the MInference file
 * goes to minference/<its name>, the DuoAttention folder's files to duo-attention/.
 */
export function prepareSparseConfigs(
  sources: { minference?: string; duoAttention?: string },
  order: HeadOrder,
): ConfigFile[] {
  const files: ConfigFile[] = [];
  if (sources.minference !== undefined) {
    const text = reorderMinference(readSource(sources.minference), order, sources.minference);
    files.push({ path: join(MINFERENCE_FOLDER, basename(sources.minference)), text });
  }
  if (sources.duoAttention !== undefined) {
    const dir = sources.duoAttention;
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => e.name)
        .sort();
    } catch (error) {
      bad(`cannot read the DuoAttention folder ${dir}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const gates = names.filter((n) => n.endsWith('full_attention_heads.tsv'));
    if (gates.length !== 1) bad(`${dir}: expected one *full_attention_heads.tsv, found ${gates.length}`);
    for (const name of names) {
      const from = join(dir, name);
      const path = join(DUO_FOLDER, name);
      if (name === gates[0]) files.push({ path, text: reorderDuoGates(readSource(from), order, from) });
      else files.push({ path, copyFrom: from });
    }
  }
  return files;
}

function readSource(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return bad(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
