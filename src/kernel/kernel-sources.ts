/**
 * GPU.js kernel sources of the attention pipeline, kept as plain JavaScript strings: GPU.js parses
 * the source text itself, so it must not pass through a TypeScript transpiler that could rewrite
 * it. Loops have constant bounds (GPU.js needs them) and stop early with `break`.
 *
 * Constants every kernel receives: d (head dim), scale (score scale), width (padded row width of
 * the sparse index, or n for dense), first (position of query row 0 = n - queries), causal (1/0).
 *
 * Sparse pipeline over a padded row index (see pattern.ts, RowIndex):
 *   scores [width, rows] -> rowLse [rows] -> probs [width, rows] -> output [d, rows]
 * Dense pipeline over every key (causal keys only when causal):
 *   scores [n, rows] -> rowLse [rows] -> probs [n, rows] -> output [d, rows]
 * Work of the sparse pipeline is proportional to the selected pairs (cells past a row's length
 * return at once); that is what makes its time follow the budget.
 */

/** q [rows * d], k [n * d], keys [rows * width], rowLength [rows] -> scaled score per listed key. */
export const SPARSE_SCORES = `function (q, k, keys, rowLength) {
  const r = this.thread.y;
  const j = this.thread.x;
  if (j >= rowLength[r]) return 0;
  const key = keys[r * this.constants.width + j];
  let dot = 0;
  for (let t = 0; t < this.constants.d; t++) {
    dot += q[r * this.constants.d + t] * k[key * this.constants.d + t];
  }
  return dot * this.constants.scale;
}`;

/** scores [rows][width], rowLength [rows] -> log-sum-exp of each row's listed scores. */
export const SPARSE_ROW_LSE = `function (scores, rowLength) {
  const r = this.thread.x;
  const length = rowLength[r];
  let best = -3.0e38;
  for (let j = 0; j < this.constants.width; j++) {
    if (j >= length) break;
    best = Math.max(best, scores[r][j]);
  }
  let total = 0;
  for (let j = 0; j < this.constants.width; j++) {
    if (j >= length) break;
    total += Math.exp(scores[r][j] - best);
  }
  return best + Math.log(total);
}`;

/** scores [rows][width], lse [rows], rowLength [rows] -> softmax probability per listed key. */
export const SPARSE_PROBS = `function (scores, lse, rowLength) {
  const r = this.thread.y;
  const j = this.thread.x;
  if (j >= rowLength[r]) return 0;
  return Math.exp(scores[r][j] - lse[r]);
}`;

/** probs [rows][width], v [n * d], keys [rows * width], rowLength [rows] -> output [rows][d]. */
export const SPARSE_OUTPUT = `function (probs, v, keys, rowLength) {
  const r = this.thread.y;
  const c = this.thread.x;
  const length = rowLength[r];
  let acc = 0;
  for (let j = 0; j < this.constants.width; j++) {
    if (j >= length) break;
    acc += probs[r][j] * v[keys[r * this.constants.width + j] * this.constants.d + c];
  }
  return acc;
}`;

/** q [rows * d], k [n * d] -> scaled score per key (0 where the causal mask hides it). */
export const DENSE_SCORES = `function (q, k) {
  const r = this.thread.y;
  const key = this.thread.x;
  if (this.constants.causal > 0 && key > this.constants.first + r) return 0;
  let dot = 0;
  for (let t = 0; t < this.constants.d; t++) {
    dot += q[r * this.constants.d + t] * k[key * this.constants.d + t];
  }
  return dot * this.constants.scale;
}`;

/** scores [rows][n] -> log-sum-exp over each row's visible keys. */
export const DENSE_ROW_LSE = `function (scores) {
  const r = this.thread.x;
  let last = this.constants.width - 1;
  if (this.constants.causal > 0) last = this.constants.first + r;
  let best = -3.0e38;
  for (let key = 0; key < this.constants.width; key++) {
    if (key > last) break;
    best = Math.max(best, scores[r][key]);
  }
  let total = 0;
  for (let key = 0; key < this.constants.width; key++) {
    if (key > last) break;
    total += Math.exp(scores[r][key] - best);
  }
  return best + Math.log(total);
}`;

/** scores [rows][n], lse [rows] -> softmax probability per visible key (0 elsewhere). */
export const DENSE_PROBS = `function (scores, lse) {
  const r = this.thread.y;
  const key = this.thread.x;
  if (this.constants.causal > 0 && key > this.constants.first + r) return 0;
  return Math.exp(scores[r][key] - lse[r]);
}`;

/** probs [rows][n], v [n * d] -> output [rows][d]. */
export const DENSE_OUTPUT = `function (probs, v) {
  const r = this.thread.y;
  const c = this.thread.x;
  let last = this.constants.width - 1;
  if (this.constants.causal > 0) last = this.constants.first + r;
  let acc = 0;
  for (let key = 0; key < this.constants.width; key++) {
    if (key > last) break;
    acc += probs[r][key] * v[key * this.constants.d + c];
  }
  return acc;
}`;
