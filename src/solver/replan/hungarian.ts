/**
 * Minimum-cost perfect assignment (the Hungarian method with potentials, O(n^3)).
 * Written here rather than taken from npm: the packages on offer are unmaintained, and the
 * algorithm is 40 lines whose only inputs are GPU counts (n <= a few dozen).
 * @param cost [n][n] cost of giving row i column j; finite numbers
 * @returns [n] column given to each row
 */
export function minCostAssignment(cost: readonly (readonly number[])[]): number[] {
  const n = cost.length;
  if (n === 0) return [];
  // 1-based arrays of the classic formulation: row potentials u, column potentials v, and
  // col2row[j] = row matched to column j (0 = none; column 0 is the virtual start).
  const u = new Array<number>(n + 1).fill(0);
  const v = new Array<number>(n + 1).fill(0);
  const col2row = new Array<number>(n + 1).fill(0);
  const way = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    col2row[0] = i;
    let j0 = 0;
    const minv = new Array<number>(n + 1).fill(Infinity);
    const used = new Array<boolean>(n + 1).fill(false);
    do {
      used[j0] = true;
      const i0 = col2row[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const reduced = cost[i0 - 1][j - 1] - u[i0] - v[j];
        if (reduced < minv[j]) {
          minv[j] = reduced;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[col2row[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (col2row[j0] !== 0);
    do {
      const j1 = way[j0];
      col2row[j0] = col2row[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const row2col = new Array<number>(n).fill(-1);
  for (let j = 1; j <= n; j++) if (col2row[j] > 0) row2col[col2row[j] - 1] = j - 1;
  return row2col;
}
