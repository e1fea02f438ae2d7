import { gpuLoadsOf } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';

/** Search nodes one pair's re-split may use: keeps a pass over all pairs to milliseconds. */
const NODES_PER_PAIR = 20_000;

export interface RebalanceLimits {
  /** Stop at this time of `now` (ms). */
  readonly deadline?: number;
  readonly now?: () => number;
  /** Stop once the makespan is at most this (e.g. the bound over 1 - gap tolerance). */
  readonly goal?: number;
}

/**
 * Local search by re-splitting pairs of GPUs: take a GPU at the makespan, pool its free units with
 * those of another GPU, and split the pool again so that the larger of the two loads is as small
 * as a bounded branch-and-bound finds (honouring both GPUs' unit counts, pins and speeds); accept
 * when that larger load falls below the makespan. A swap of one unit pair is one such re-split,
 * so this reaches placements single moves and swaps cannot. When no pair with a critical GPU
 * improves, any other pair whose larger load can fall is re-split (a plateau step). No step
 * raises the makespan; the step cap bounds the plateau. Skipped with KV groups (a limit, copies'
 * costs or a cap: a re-split would have to track groups). Stops at the deadline or at the goal.
 * @param start [units] GPU index of each unit, meeting every constraint
 * @returns [units] a placement no worse than the start
 */
export function rebalancePairs(
  problem: LayerProblem,
  start: readonly number[],
  limits: RebalanceLimits = {},
): number[] {
  const { deadline = Infinity, now = () => 0, goal = 0 } = limits;
  const unit2gpu = [...start];
  if (problem.unit2group !== undefined || problem.speeds.length < 2) return unit2gpu;
  const gpus = problem.speeds.length;
  const isPinned = (u: number) => (problem.unit2pin?.[u] ?? -1) >= 0;
  const maxSteps = 20 * gpus * problem.costs.length;
  for (let step = 0; step < maxSteps && now() < deadline; step++) {
    const loads = gpuLoadsOf(problem, unit2gpu);
    const makespan = Math.max(...loads);
    if (makespan <= goal) return unit2gpu;
    const critical = loads
      .map((l, g) => ({ l, g }))
      .filter((x) => x.l === makespan)
      .map((x) => x.g);
    const others = loads
      .map((l, g) => ({ l, g }))
      .sort((x, y) => x.l - y.l)
      .map((x) => x.g);
    // First a pair with a GPU at the makespan; when none improves, a plateau step: any pair split
    // more evenly (the makespan stays, the loads spread less), which opens new critical moves.
    const heaviestFirst = [...others].reverse();
    const pairs = [critical, heaviestFirst.filter((a) => !critical.includes(a))];
    const improved = pairs.some((firsts) =>
      firsts.some((a) =>
        others.some((b) => {
          if (b === a || critical.includes(b)) return false;
          const split = bestSplit(problem, unit2gpu, a, b, isPinned);
          // Strictly below the pair's larger load, beyond rounding, so every step is real progress.
          if (!split || !(split.worst < Math.max(loads[a], loads[b]) * (1 - 1e-12))) return false;
          split.toA.forEach((u) => {
            unit2gpu[u] = a;
          });
          split.toB.forEach((u) => {
            unit2gpu[u] = b;
          });
          return true;
        }),
      ),
    );
    if (!improved) return unit2gpu;
  }
  return unit2gpu;
}

/** Best split of the free units of GPUs a and b found within the node budget. */
function bestSplit(
  problem: LayerProblem,
  unit2gpu: readonly number[],
  a: number,
  b: number,
  isPinned: (u: number) => boolean,
) {
  const { costs, speeds } = problem;
  let fixedA = 0;
  let fixedB = 0;
  let pinnedA = 0;
  let pinnedB = 0;
  const pool: number[] = [];
  unit2gpu.forEach((g, u) => {
    if (g !== a && g !== b) return;
    if (!isPinned(u)) pool.push(u);
    else if (g === a) {
      fixedA += costs[u];
      pinnedA += 1;
    } else {
      fixedB += costs[u];
      pinnedB += 1;
    }
  });
  pool.sort((x, y) => costs[y] - costs[x] || x - y);
  const n = pool.length;
  const work = pool.reduce((s, u) => s + costs[u], 0);
  const [sa, sb] = [speeds[a], speeds[b]];
  // Units of the pool GPU a may take: both GPUs' count rules.
  const leastA = Math.max(problem.minUnitsPerGpu - pinnedA, n - (problem.maxUnitsPerGpu - pinnedB), 0);
  const mostA = Math.min(problem.maxUnitsPerGpu - pinnedA, n - Math.max(0, problem.minUnitsPerGpu - pinnedB), n);
  if (leastA > mostA) return null;
  const worstOf = (sumA: number) => Math.max((fixedA + sumA) / sa, (fixedB + work - sumA) / sb);
  // suffix[j]: sum of pool[j..]; the cheapest r of pool[j..] are its last r.
  const suffix = new Array<number>(n + 1).fill(0);
  for (let j = n - 1; j >= 0; j--) suffix[j] = suffix[j + 1] + costs[pool[j]];
  const chosen = new Uint8Array(n);
  let bestWorst = Infinity;
  let bestChosen: Uint8Array | null = null;
  let nodes = 0;
  const visit = (j: number, count: number, sumA: number): void => {
    if (++nodes > NODES_PER_PAIR) return;
    const left = n - j;
    if (count + left < leastA || count > mostA) return;
    // Reachable sums for a: from adding the cheapest units still needed to the dearest allowed.
    const need = Math.max(0, leastA - count);
    const room = Math.min(mostA - count, left);
    const low = sumA + suffix[n - need] - suffix[n];
    const high = sumA + suffix[j] - suffix[j + room];
    // worstOf is convex in sumA: its least value over [low, high] bounds every completion.
    const ideal = (sa * (fixedB + work) - sb * fixedA) / (sa + sb);
    if (worstOf(Math.min(high, Math.max(low, ideal))) >= bestWorst) return;
    if (j === n) {
      bestWorst = worstOf(sumA);
      bestChosen = chosen.slice();
      return;
    }
    // Include first while a is below its ideal share: good splits are found early.
    const order = sumA + costs[pool[j]] <= ideal ? [1, 0] : [0, 1];
    for (const take of order) {
      chosen[j] = take;
      visit(j + 1, count + take, take ? sumA + costs[pool[j]] : sumA);
    }
    chosen[j] = 0;
  };
  visit(0, 0, 0);
  if (!bestChosen) return null;
  const picked: Uint8Array = bestChosen;
  return { worst: bestWorst, toA: pool.filter((_, j) => picked[j] === 1), toB: pool.filter((_, j) => picked[j] === 0) };
}
