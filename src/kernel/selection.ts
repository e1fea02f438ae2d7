/**
 * Choosing a sparse pattern for a budget by estimated importance. Pure: no GPU.js here.
 *
 * vertical_slash (MInference's estimate): take the last `lastQueries` query rows, their full
 * causal softmax over the keys, and score every key column c by the mass those rows give it and
 * every diagonal offset o by the mass they give key p - o. Columns and offsets are then ranked
 * together ("lines", each costing about one key per row); a budget of b keeps the b best lines.
 * The diagonal (offset 0) is ranked first because the kernels always attend to it.
 *
 * block_topk: mean-pool q over each query block and k over each key block; a query block ranks
 * the key blocks it may see by pooled score (mean q . mean k * scale), its own diagonal block
 * first; a budget of b keeps the first max(1, round(b / blockSize)) of them.
 *
 * Both rankings are fixed before any budget is chosen, so patterns for growing budgets are nested.
 */
import { HplbError } from '../errors.ts';
import { blockCount, type BlockSparsePattern, type VerticalSlashPattern } from './pattern.ts';
import { queryRows, rowScores, scoreScale, validateInput, type ScoreInput } from './reference.ts';

export const DEFAULT_LAST_QUERIES = 64;
export const DEFAULT_BLOCK_SIZE = 64;

/** A column (key position) or a diagonal offset, with its estimated attention mass. */
export interface Line {
  readonly kind: 'column' | 'offset';
  readonly value: number;
  readonly score: number;
}

/** Lines ranked best first (offset 0 first, then by score; ties by kind then value). */
export function rankLines(head: ScoreInput, lastQueries: number): Line[] {
  validateInput(head);
  if (!Number.isInteger(lastQueries) || lastQueries < 1) {
    throw new HplbError('INVALID_PROBLEM', `lastQueries must be a positive integer, got ${lastQueries}`, { pointer: '/lastQueries' });
  }
  const { n, causal } = head;
  const rows = queryRows(head);
  const first = n - rows;
  const columnMass = new Float64Array(n);
  const offsetMass = new Float64Array(n);
  const scores = new Float64Array(n);
  for (let r = Math.max(0, rows - lastQueries); r < rows; r++) {
    const p = first + r;
    rowScores(head, r, scores);
    const visible = causal ? p + 1 : n;
    let max = -Infinity;
    for (let key = 0; key < visible; key++) max = Math.max(max, scores[key]);
    let total = 0;
    for (let key = 0; key < visible; key++) total += Math.exp(scores[key] - max);
    for (let key = 0; key < visible; key++) {
      const mass = Math.exp(scores[key] - max) / total;
      columnMass[key] += mass;
      if (key <= p) offsetMass[p - key] += mass;
    }
  }
  const lines: Line[] = [];
  for (let i = 0; i < n; i++) {
    lines.push({ kind: 'column', value: i, score: columnMass[i] });
    if (i > 0) lines.push({ kind: 'offset', value: i, score: offsetMass[i] });
  }
  lines.sort((a, b) => b.score - a.score || a.kind.localeCompare(b.kind) || a.value - b.value);
  return [{ kind: 'offset', value: 0, score: offsetMass[0] }, ...lines];
}

/** The pattern of the first `budget` lines of a ranking. */
export function verticalSlashPattern(ranking: readonly Line[], budget: number): VerticalSlashPattern {
  const kept = ranking.slice(0, budget);
  const pick = (kind: Line['kind']): number[] => kept.filter((line) => line.kind === kind).map((line) => line.value).sort((a, b) => a - b);
  return { kind: 'vertical_slash', columns: pick('column'), offsets: pick('offset') };
}

/** Per query block, the key blocks it may see, best first (diagonal block first). */
export interface BlockRanking {
  readonly blockSize: number;
  /** [query blocks][...] key block ids, best first. */
  readonly order: readonly (readonly number[])[];
}

/** Mean of rows [start, end) of a row-major [*, d] array. */
function meanRows(values: Float32Array, d: number, start: number, end: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = start; i < end; i++) for (let t = 0; t < d; t++) mean[t] += values[i * d + t];
  for (let t = 0; t < d; t++) mean[t] /= Math.max(1, end - start);
  return mean;
}

/** Ranks key blocks for every query block by pooled scores. */
export function rankBlocks(head: ScoreInput, blockSize: number): BlockRanking {
  validateInput(head);
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new HplbError('INVALID_PROBLEM', `blockSize must be a positive integer, got ${blockSize}`, { pointer: '/blockSize' });
  }
  const { n, d, causal } = head;
  const first = n - queryRows(head);
  const count = blockCount(n, blockSize);
  const scale = scoreScale(head);
  const keyMeans = Array.from({ length: count }, (_, kb) => meanRows(head.k, d, kb * blockSize, Math.min(n, (kb + 1) * blockSize)));
  const order: number[][] = [];
  for (let qb = 0; qb < count; qb++) {
    // query rows of this block that exist in q (all of them for prefill)
    const start = Math.max(qb * blockSize, first) - first;
    const end = Math.min((qb + 1) * blockSize, n) - first;
    if (end <= start) {
      order.push([]);
      continue;
    }
    const queryMean = meanRows(head.q, d, start, end);
    const visible = causal ? qb + 1 : count;
    const scored: { block: number; score: number }[] = [];
    for (let kb = 0; kb < visible; kb++) {
      if (kb === qb) continue;
      let dot = 0;
      for (let t = 0; t < d; t++) dot += queryMean[t] * keyMeans[kb][t];
      scored.push({ block: kb, score: dot * scale });
    }
    scored.sort((a, b) => b.score - a.score || a.block - b.block);
    order.push([qb, ...scored.map((entry) => entry.block)]);
  }
  return { blockSize, order };
}

/** Each query block keeps its first max(1, round(budget / blockSize)) ranked key blocks. */
export function blockTopKPattern(ranking: BlockRanking, budget: number): BlockSparsePattern {
  const keep = Math.max(1, Math.round(budget / ranking.blockSize));
  return {
    kind: 'block_sparse',
    blockSize: ranking.blockSize,
    blocks: ranking.order.map((blocks) => blocks.slice(0, keep).sort((a, b) => a - b)),
  };
}
