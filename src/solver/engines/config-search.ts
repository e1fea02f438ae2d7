import { HplbError } from '../../errors.ts';
import { aggregateLayer } from '../aggregate.ts';
import { REL_EPS } from '../layer-result.ts';
import { SearchTimeout, type LayerEngine, type LayerProblem, type SolveOptions } from '../types.ts';
import { decideConfigs } from './config-decide.ts';
import { tryGreedyAssignment } from './greedy.ts';
import { lowerIncumbent, solveBySearch, type SearchOutcome } from './target-search.ts';

/**
 * Exact search over per-GPU configurations (counts of each class of identical units on a GPU).
 * Real layers have few distinct costs, so a GPU has few configurations. The search decides
 * "does a placement with every load <= T exist?" by depth-first search over GPUs
 * (config-decide.ts), pruned by capacity, unit counts and the fluid bound of the GPUs left, with
 * a memo of failed (GPU, units left) states that also removes the symmetry between identical
 * GPUs. The first target is the static bound (often met exactly); after that each target sits
 * REL_EPS / 2 under the incumbent, so every feasible answer lowers the incumbent and the first
 * infeasible one proves it optimal (a gap of REL_EPS / 2). Failed states are kept across targets,
 * since targets only fall.
 * With KV groups (unit2group), classes are split by group; a configuration touches at most the
 * per-GPU limit's number of groups (counting those pinned units already bring), pays each new
 * copy's group cost, and the copies of all GPUs stay within the KV-cache cap (memo keys then carry
 * the copies made). With a mix, it decides on the combined (weighted-sum) loads: a target with no
 * placement is still a bound on the objective, which is at least the combined makespan.
 */
export function configSearch(problem: LayerProblem, options: SolveOptions): SearchOutcome {
  const now = options.now ?? performance.now.bind(performance);
  const deadline = now() + options.timeLimitMs;
  const layer = aggregateLayer(problem);
  let best = options.incumbent ? [...options.incumbent] : tryGreedyAssignment(problem);
  if (!best) {
    // No start: an unbounded target asks only "is there any placement at all?".
    const found = decideConfigs(problem, layer, Infinity, { deadline, now, failedAt: new Map() });
    if (found === null)
      throw new HplbError(
        'INFEASIBLE_CONSTRAINTS',
        `no placement of layer ${problem.layer} meets the unit-count, KV-group, KV-cache and pin constraints (exhaustive search)`,
        { pointer: '/constraints', rule: 'feasible' },
      );
    if (found === 'timeout')
      throw new SearchTimeout(`no placement of layer ${problem.layer} found within ${options.timeLimitMs} ms`);
    best = found;
  }
  // Failed states survive from one target to the next: a state with no completion under a
  // target has none under any smaller target either.
  const limits = { deadline, now, failedAt: new Map<string, number>() };
  return lowerIncumbent(
    problem,
    best,
    { stopGap: REL_EPS, next: (upper, lower, first) => (first ? lower : upper * (1 - REL_EPS / 2)) },
    (target) => decideConfigs(problem, layer, target, limits),
  );
}

export const configSearchEngine: LayerEngine = {
  name: 'search',
  solveLayer: (problem, options) => solveBySearch(problem, options, 'search', configSearch),
};
