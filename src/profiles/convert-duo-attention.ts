/**
 * The DuoAttention models this project converts (../shared/data/duo-attention: a gate table and
 * its config.json each) and their converter to a Profile. Pure (convert.ts).
 */
import type { HeadBudget, Profile } from './profile.ts';
import {
  arch,
  DEFAULT_DATA_LABEL,
  generatedBy,
  invalid,
  isPlainObject,
  parseJson,
  type SourceEntry,
} from './convert.ts';
import { profileVersion } from './version.ts';

export const DUO_REPOSITORY = 'mit-han-lab/duo-attention';
export const DUO_COMMIT = 'fe93c314ae87306ef6629dc16713250b4718ffe7';

/** The DuoAttention models this project converts, keyed by the file-name prefix in ../shared/data/duo-attention. */
export const DUO_SOURCES: Readonly<Record<string, SourceEntry>> = Object.freeze({
  'Llama-3-8B-Instruct-Gradient-1048k': {
    id: 'llama-3-8b-instruct-gradient-1048k-duo',
    displayName: 'Llama-3-8B-Instruct-Gradient-1048k (DuoAttention)',
    sourceModel: 'Llama-3-8B-Instruct-Gradient-1048k',
    architecture: arch(32, 32, 8, 1048576),
  },
  'Llama-2-7B-32K-Instruct': {
    id: 'llama-2-7b-32k-instruct-duo',
    displayName: 'Llama-2-7B-32K-Instruct (DuoAttention)',
    sourceModel: 'Llama-2-7B-32K-Instruct',
    architecture: arch(32, 32, 32, 32768),
  },
  'Mistral-7B-Instruct-v0.2': {
    id: 'mistral-7b-instruct-v0.2-duo',
    displayName: 'Mistral-7B-Instruct-v0.2 (DuoAttention)',
    sourceModel: 'Mistral-7B-Instruct-v0.2',
    architecture: arch(32, 32, 8, 32768),
  },
});

/** Reads a config field that must be an integer >= min. */
function configInteger(config: Record<string, unknown>, key: string, min: number, file: string): number {
  const value = config[key];
  if (!Number.isInteger(value) || (value as number) < min) {
    throw invalid(`${file}: "${key}" must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/**
 * Converts one DuoAttention model: `tsvText` has one row per layer and one tab-separated gate per
 * KV head; `configText` is its config.json (threshold, sink_size, recent_size in tokens). A KV
 * group whose gate exceeds the threshold keeps full attention for all its query heads, the others
 * become streaming heads. Returns budgets [layers][queryHeads] and sourceScores [layers][queryHeads]
 * (each query head carries its group's gate). Throws HplbError('INVALID_PROFILE') naming the file,
 * layer and KV head on malformed input.
 */
export function convertDuoAttention(
  modelName: string,
  tsvText: string,
  configText: string,
  dataLabel = DEFAULT_DATA_LABEL,
): Profile {
  const tsvFile = `duo-attention/${modelName}.full_attention_heads.tsv`;
  const configFile = `duo-attention/${modelName}.config.json`;
  const source = DUO_SOURCES[modelName];
  if (source === undefined) {
    throw invalid(
      `${tsvFile}: unknown DuoAttention model "${modelName}"; known models: ${Object.keys(DUO_SOURCES).join(', ')}`,
    );
  }
  const { layers, queryHeads, kvHeads } = source.architecture;
  const groupSize = queryHeads / kvHeads;

  const config = parseJson(configText, configFile);
  if (!isPlainObject(config)) throw invalid(`${configFile}: expected a JSON object`);
  const threshold = config.threshold;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw invalid(`${configFile}: "threshold" must be a finite number, got ${JSON.stringify(threshold)}`);
  }
  const sink = configInteger(config, 'sink_size', 0, configFile);
  const recent = configInteger(config, 'recent_size', 1, configFile);
  // These settings change what is deployed (other window sizes, a threshold derived from a target
  // sparsity); converting as if they were absent would silently give wrong budgets.
  for (const key of ['deploy_sink_size', 'deploy_recent_size', 'sparsity']) {
    if (config[key] !== undefined && config[key] !== null) {
      throw invalid(
        `${configFile}: "${key}" is set (${JSON.stringify(config[key])}); this converter does not interpret it`,
      );
    }
  }
  const outputDir = config.output_dir;
  if (typeof outputDir !== 'string' || !outputDir.startsWith(`attn_patterns/${modelName}/`)) {
    throw invalid(
      `${configFile}: "output_dir" must name the upstream folder attn_patterns/${modelName}/..., got ${JSON.stringify(outputDir)}`,
    );
  }

  const rows = tsvText.split(/\r?\n/);
  if (rows.at(-1) === '') rows.pop();
  if (rows.length !== layers) throw invalid(`${tsvFile}: ${rows.length} rows (layers), the architecture has ${layers}`);
  const budgets: HeadBudget[][] = [];
  const scores: number[][] = [];
  const full: HeadBudget = { kind: 'full' };
  const streaming: HeadBudget = { kind: 'streaming', sink, recent };
  rows.forEach((line, layer) => {
    const cells = line.split('\t');
    if (cells.length !== kvHeads) {
      const kvHead = Math.min(cells.length, kvHeads);
      throw invalid(
        `${tsvFile}: layer ${layer}, KV head ${kvHead}: row has ${cells.length} columns, the architecture ${kvHeads} KV heads`,
      );
    }
    const gates = cells.map((cell, kvHead) => {
      const gate = cell.trim() === '' ? NaN : Number(cell);
      if (!Number.isFinite(gate))
        throw invalid(`${tsvFile}: layer ${layer}, KV head ${kvHead}: gate ${JSON.stringify(cell)} is not a number`);
      return gate;
    });
    budgets.push(
      Array.from({ length: queryHeads }, (_, head) =>
        gates[Math.floor(head / groupSize)] > threshold ? full : streaming,
      ),
    );
    scores.push(Array.from({ length: queryHeads }, (_, head) => gates[Math.floor(head / groupSize)]));
  });

  return {
    generatedBy: generatedBy(dataLabel, tsvFile),
    id: source.id,
    displayName: source.displayName,
    version: profileVersion(source.architecture, budgets),
    architecture: source.architecture,
    provenance: {
      repository: DUO_REPOSITORY,
      path: `${outputDir}/full_attention_heads.tsv`,
      commit: DUO_COMMIT,
      licence: 'MIT',
      meaning:
        'DuoAttention learned gates, one per layer and KV head (config.json next to the table gives the deployment settings). ' +
        `A gate above the threshold ${threshold} keeps full attention for every query head of that KV group; the others ` +
        `become streaming heads attending the first ${sink} (sink) plus the ${recent} most recent tokens per query row. ` +
        "sourceScores holds each query head's group gate; it is not a cost.",
      sourceModel: source.sourceModel,
    },
    budgets,
    sourceScores: scores,
  };
}
