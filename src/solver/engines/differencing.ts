import { heuristicEngine } from '../layer-result.ts';
import type { LayerEngine, LayerProblem } from '../types.ts';
import { greedyAssignment, improveAssignment } from './greedy.ts';

/** One partial solution of the differencing method: G subsets, heaviest first. */
interface Partial {
  /** [G] sum of each subset's costs, descending. */
  readonly sums: number[];
  /** [G][...] units of each subset, in the order of `sums`. */
  readonly units: number[][];
}

/**
 * Multi-way Karmarkar-Karp differencing (Korf's CKK heuristic), in its balanced form (BLDM,
 * Michiels et al.) when every GPU must hold the same number of units: start from one partial
 * solution per unit (free counts) or per run of G consecutive units in cost order (equal counts,
 * one unit per subset), then repeatedly join the two partial solutions whose heaviest and lightest
 * subsets differ most, heaviest subset of one with the lightest of the other. Equal counts stay
 * equal at every join. It often lands far closer to the optimum than LPT on all-distinct costs.
 * Applies to identical GPUs without pins or KV groups (limits, copies' costs, a cap); a "max:N"
 * rule is checked on the result. Returns null where it does not apply.
 * @returns [units] GPU index of each unit, or null
 */
export function differencingPlacement(problem: LayerProblem): number[] | null {
  const gpus = problem.speeds.length;
  const units = problem.costs.length;
  if (gpus < 2 || problem.unit2pin || problem.unit2group !== undefined) return null;
  if (problem.speeds.some((s) => s !== problem.speeds[0])) return null;
  const order = problem.costs.map((_, u) => u).sort((a, b) => problem.costs[b] - problem.costs[a] || a - b);
  const balanced = problem.minUnitsPerGpu > 0;
  if (balanced && problem.minUnitsPerGpu * gpus !== units) return null;
  const partials: Partial[] = [];
  const step = balanced ? gpus : 1;
  for (let i = 0; i < units; i += step) {
    const chunk = order.slice(i, i + step);
    partials.push({
      sums: Array.from({ length: gpus }, (_, g) => (g < chunk.length ? problem.costs[chunk[g]] : 0)),
      units: Array.from({ length: gpus }, (_, g) => (g < chunk.length ? [chunk[g]] : [])),
    });
  }
  while (partials.length > 1) {
    partials.sort((a, b) => spread(b) - spread(a));
    const [a, b] = partials.splice(0, 2);
    partials.push(join(a, b));
  }
  const unit2gpu = new Array<number>(units).fill(-1);
  partials[0].units.forEach((list, g) => {
    for (const u of list) unit2gpu[u] = g;
  });
  const counts = partials[0].units.map((list) => list.length);
  if (counts.some((n) => n > problem.maxUnitsPerGpu || n < problem.minUnitsPerGpu)) return null;
  return unit2gpu;
}

/** differencingPlacement followed by greedy's local search, or null where it does not apply. */
export function differencingAssignment(problem: LayerProblem): number[] | null {
  const start = differencingPlacement(problem);
  return start ? improveAssignment(problem, start) : null;
}

/** Differencing, then local search; greedy's answer where differencing does not apply. */
export const differencingEngine: LayerEngine = heuristicEngine(
  'differencing',
  (problem) => differencingAssignment(problem) ?? greedyAssignment(problem),
);

function spread(p: Partial): number {
  return p.sums[0] - p.sums[p.sums.length - 1];
}

/** Heaviest subset of a with the lightest of b, and so on; re-sorted heaviest first. */
function join(a: Partial, b: Partial): Partial {
  const gpus = a.sums.length;
  const merged = Array.from({ length: gpus }, (_, g) => ({
    sum: a.sums[g] + b.sums[gpus - 1 - g],
    units: [...a.units[g], ...b.units[gpus - 1 - g]],
  }));
  merged.sort((x, y) => y.sum - x.sum);
  return { sums: merged.map((m) => m.sum), units: merged.map((m) => m.units) };
}
