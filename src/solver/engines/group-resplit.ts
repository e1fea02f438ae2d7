import { createRandom } from '../../random.ts';
import { gpuLoadsOf, makespanOf } from '../layer-result.ts';
import type { LayerProblem } from '../types.ts';
import { partitionSearch, partitionSearchApplies } from './partition-search.ts';

/** GPUs re-split together: one at the makespan and this many others. */
const GROUP_OTHERS = 7;
/** Time one group's exact re-split may take, ms. */
const GROUP_LIMIT_MS = 20;

/**
 * Large-neighbourhood search for identical GPUs (where the partition search applies): pool the
 * units of a GPU at the makespan and of GROUP_OTHERS other GPUs drawn at random (seeded), and
 * re-split them with the exact partition search under a short limit; keep the re-split when the
 * group's largest load falls. No step raises the makespan; it reaches placements that pairs
 * cannot (three- and four-way exchanges). Stops at the deadline or at the goal.
 * @param start [units] GPU index of each unit, meeting every constraint
 * @returns [units] a placement no worse than the start
 */
export function resplitGroups(
  problem: LayerProblem,
  start: readonly number[],
  limits: { deadline: number; now: () => number; goal: number; seed?: number },
): number[] {
  const unit2gpu = [...start];
  const gpus = problem.speeds.length;
  if (!partitionSearchApplies(problem) || gpus <= GROUP_OTHERS + 1) return unit2gpu;
  const random = createRandom(limits.seed ?? problem.layer + 1);
  while (limits.now() < limits.deadline) {
    const loads = gpuLoadsOf(problem, unit2gpu);
    const makespan = Math.max(...loads);
    if (makespan <= limits.goal) break;
    const critical = loads.indexOf(makespan);
    const group = [critical];
    while (group.length < GROUP_OTHERS + 1) {
      const g = Math.floor(random() * gpus);
      if (!group.includes(g)) group.push(g);
    }
    const units = unit2gpu.map((g, u) => (group.includes(g) ? u : -1)).filter((u) => u >= 0);
    const sub: LayerProblem = {
      layer: problem.layer,
      costs: units.map((u) => problem.costs[u]),
      speeds: group.map((g) => problem.speeds[g]),
      minUnitsPerGpu: problem.minUnitsPerGpu,
      maxUnitsPerGpu: problem.maxUnitsPerGpu,
    };
    const current = units.map((u) => group.indexOf(unit2gpu[u]));
    const before = makespanOf(sub, current);
    const remaining = limits.deadline - limits.now();
    const found = partitionSearch(sub, {
      timeLimitMs: Math.min(GROUP_LIMIT_MS, remaining),
      gapTolerance: 0,
      now: limits.now,
      incumbent: current,
    });
    if (found.makespan < before * (1 - 1e-12))
      units.forEach((u, i) => {
        unit2gpu[u] = group[found.unit2gpu[i]];
      });
  }
  return unit2gpu;
}
