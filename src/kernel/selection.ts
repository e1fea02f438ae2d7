/**
 * The exact-line selection, for recovery studies (not MInference's: see minference.ts for its
 * rules). Pure: no GPU.js here.
 *
 * Take the last `lastQueries` query rows, their full causal softmax over the keys, and score
 * every key column c by the mass those rows give it and every diagonal offset o by the mass they
 * give key p - o. Columns and offsets are then ranked together ("lines"); a budget of b lines
 * keeps the b best, executed exactly (exact_vertical_slash: one key per row per line). The
 * diagonal (offset 0) is ranked first because the kernels always attend to it. The ranking is
 * fixed before any budget is chosen, so patterns for growing budgets are nested.
 */
import { HplbError } from '../errors.ts';
import type { ExactVerticalSlashPattern } from './pattern.ts';
import { queryRows, rowScores, validateInput, type ScoreInput } from './reference.ts';

export const DEFAULT_LAST_QUERIES = 64;

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
    throw new HplbError('INVALID_PROBLEM', `lastQueries must be a positive integer, got ${lastQueries}`, {
      pointer: '/lastQueries',
    });
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

/** The exact-line pattern of the first `lines` lines of a ranking. */
export function exactLinesPattern(ranking: readonly Line[], lines: number): ExactVerticalSlashPattern {
  const kept = ranking.slice(0, lines);
  const pick = (kind: Line['kind']): number[] =>
    kept
      .filter((line) => line.kind === kind)
      .map((line) => line.value)
      .sort((a, b) => a - b);
  return { kind: 'exact_vertical_slash', columns: pick('column'), offsets: pick('offset') };
}
