/**
 * The MInference pattern files this project converts (../shared/data/minference) and their
 * converter to a Profile. Pure (convert.ts).
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

export const MINFERENCE_REPOSITORY = 'microsoft/MInference';
export const MINFERENCE_COMMIT = 'fb56c917f618e8645f1cfc37535afd7424d78f0d';

/** The MInference files this project converts, keyed by file name (architecture per ../shared/data/README.md). */
export const MINFERENCE_SOURCES: Readonly<Record<string, SourceEntry>> = Object.freeze({
  'Llama_3_8B_Instruct_262k_kv_out_v32_fit_o_best_pattern.json': {
    id: 'llama-3-8b-instruct-262k-minference',
    displayName: 'Llama-3-8B-Instruct-262k (MInference)',
    sourceModel: 'gradientai/Llama-3-8B-Instruct-262k',
    architecture: arch(32, 32, 8, 262144),
  },
  'Llama_3.1_8B_Instruct_128k_kv_out_v32_fit_o_best_pattern.json': {
    id: 'llama-3.1-8b-instruct-128k-minference',
    displayName: 'Llama-3.1-8B-Instruct 128k (MInference)',
    sourceModel: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    architecture: arch(32, 32, 8, 131072),
  },
  'Qwen2.5_7B_Instruct_128k_instruct_kv_out_v32_fit_o_best_pattern.json': {
    id: 'qwen2.5-7b-instruct-128k-minference',
    displayName: 'Qwen2.5-7B-Instruct 128k (MInference)',
    sourceModel: 'Qwen/Qwen2.5-7B-Instruct',
    architecture: arch(28, 28, 4, 131072),
  },
  'Qwen2.5_14B_Instruct_1M.json': {
    id: 'qwen2.5-14b-instruct-1m-minference',
    displayName: 'Qwen2.5-14B-Instruct-1M (MInference)',
    sourceModel: 'Qwen/Qwen2.5-14B-Instruct-1M',
    architecture: arch(48, 40, 8, 1010000),
  },
  'Qwen2.5_32B_Instruct_128k_kv_out_v32_fit_o_best_pattern.json': {
    id: 'qwen2.5-32b-instruct-128k-minference',
    displayName: 'Qwen2.5-32B-Instruct 128k (MInference)',
    sourceModel: 'Qwen/Qwen2.5-32B-Instruct',
    architecture: arch(64, 40, 8, 131072),
  },
  'Llama_3_70B_Instruct_262k_kv_out_v32_fit_o_best_pattern.json': {
    id: 'llama-3-70b-instruct-262k-minference',
    displayName: 'Llama-3-70B-Instruct-Gradient-262k (MInference)',
    sourceModel: 'gradientai/Llama-3-70B-Instruct-Gradient-262k',
    architecture: arch(80, 64, 8, 262144),
  },
});

/**
 * MInference pattern names this converter reads; anything else is refused. minference_forward.py
 * runs "vertical_and_slash" heads with vertical_and_slash_kernel (vertical_size columns and
 * slash_size diagonals) and "stream_llm" heads with streaming_forward(q, k, v, vertical_size,
 * slash_size), whose n_init and n_local are the two sizes: a sink and a recent window.
 */
const MINFERENCE_PATTERNS = ['vertical_and_slash', 'stream_llm'] as const;

/**
 * Converts one MInference pattern file (a JSON list, one object per layer, mapping "0".."H-1" to
 * `[pattern, vertical_size, slash_size, score]`) to a Profile whose budgets are
 * [layers][queryHeads] vertical_slash budgets (lines: columns and diagonals, kept apart) or
 * streaming budgets (stream_llm heads: sink and recent keys), and whose sourceScores are
 * [layers][queryHeads] search scores. Throws HplbError('INVALID_PROFILE') naming the file, layer
 * and head on any deviation from that shape or from the architecture known for `fileName`.
 */
export function convertMInference(fileName: string, text: string, dataLabel = DEFAULT_DATA_LABEL): Profile {
  const file = `minference/${fileName}`;
  const source = MINFERENCE_SOURCES[fileName];
  if (source === undefined) {
    throw invalid(`${file}: unknown MInference file; known files: ${Object.keys(MINFERENCE_SOURCES).join(', ')}`);
  }
  const { layers, queryHeads } = source.architecture;
  const data = parseJson(text, file);
  if (!Array.isArray(data)) throw invalid(`${file}: expected a JSON list with one object per layer`);
  if (data.length !== layers) throw invalid(`${file}: ${data.length} layers, the architecture has ${layers}`);

  const budgets: HeadBudget[][] = [];
  const scores: number[][] = [];
  data.forEach((layerData: unknown, layer) => {
    if (!isPlainObject(layerData))
      throw invalid(`${file}: layer ${layer}: expected an object mapping head index to pattern`);
    const heads = Object.keys(layerData);
    const extra = heads.find((key) => !/^(0|[1-9][0-9]*)$/.test(key) || Number(key) >= queryHeads);
    if (extra !== undefined) {
      throw invalid(
        `${file}: layer ${layer}, head "${extra}": not a head index 0..${queryHeads - 1} (layer has ${heads.length} heads, the architecture ${queryHeads})`,
      );
    }
    const row: HeadBudget[] = [];
    const scoreRow: number[] = [];
    for (let head = 0; head < queryHeads; head++) {
      const at = `${file}: layer ${layer}, head ${head}`;
      const entry = layerData[String(head)];
      if (entry === undefined)
        throw invalid(`${at}: missing (layer has ${heads.length} heads, the architecture ${queryHeads})`);
      if (!Array.isArray(entry) || entry.length !== 4) {
        throw invalid(`${at}: expected [pattern, vertical_size, slash_size, score], got ${JSON.stringify(entry)}`);
      }
      const [pattern, vertical, slash, score] = entry as unknown[];
      if (!MINFERENCE_PATTERNS.includes(pattern as (typeof MINFERENCE_PATTERNS)[number])) {
        throw invalid(`${at}: unknown pattern ${JSON.stringify(pattern)}; known: ${MINFERENCE_PATTERNS.join(', ')}`);
      }
      if (!Number.isInteger(vertical) || (vertical as number) < 0) {
        throw invalid(`${at}: vertical_size must be an integer >= 0, got ${JSON.stringify(vertical)}`);
      }
      // At least the diagonal itself: a causal query row always attends its own position.
      if (!Number.isInteger(slash) || (slash as number) < 1) {
        throw invalid(`${at}: slash_size must be an integer >= 1, got ${JSON.stringify(slash)}`);
      }
      if (typeof score !== 'number' || !Number.isFinite(score)) {
        throw invalid(`${at}: score must be a finite number, got ${JSON.stringify(score)}`);
      }
      row.push(
        pattern === 'stream_llm'
          ? { kind: 'streaming', sink: vertical as number, recent: slash as number }
          : { kind: 'vertical_slash', vertical: vertical as number, slash: slash as number },
      );
      scoreRow.push(score);
    }
    budgets.push(row);
    scores.push(scoreRow);
  });

  const path = `minference/configs/${fileName}`;
  return {
    generatedBy: generatedBy(dataLabel, file),
    id: source.id,
    displayName: source.displayName,
    version: profileVersion(source.architecture, budgets),
    architecture: source.architecture,
    provenance: {
      repository: MINFERENCE_REPOSITORY,
      path,
      commit: MINFERENCE_COMMIT,
      licence: 'MIT',
      meaning:
        'MInference offline search: the sparse pattern chosen for each query head and its budget. ' +
        '"vertical_and_slash" heads become kind vertical_slash with vertical = vertical_size key columns and slash = slash_size ' +
        'diagonals, kept apart (MInference raises them to at least 30 and 50 and runs 64-key ranges around each diagonal); ' +
        '"stream_llm" heads become kind streaming with sink = vertical_size and recent = slash_size (streaming_forward\'s n_init ' +
        'and n_local). sourceScores holds the search score, whose scale differs between files; it is not a cost.',
      sourceModel: source.sourceModel,
    },
    budgets,
    sourceScores: scores,
  };
}
