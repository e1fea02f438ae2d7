import fc from 'fast-check';
import { HplbError } from '../../src/errors.ts';
import { buildLayerProblems, type ProblemSpec } from '../../src/solver/problem.ts';
import type { LayerProblem, UnitsPerGpu } from '../../src/solver/types.ts';

/**
 * Every feasible placement of a small KV layer, by plain enumeration and plain arithmetic (none of
 * the solver's code): a GPU's load in a phase is (its units' costs + the costs of the distinct
 * groups it stores) / speed; the objective is the makespan, or with a mix the weighted sum of the
 * phases' makespans; a placement is feasible when it meets the unit counts, pins, the per-GPU
 * group limit and the KV-cache cap.
 */
export interface KvTruth {
  /** The least objective of any feasible placement. */
  readonly optimum: number;
  /** The fewest KV heads stored by any feasible placement, whatever its objective. */
  readonly fewestStored: number;
  /** The fewest KV heads stored by a feasible placement with objective <= limit (Infinity if none). */
  fewestStoredWithin(limit: number): number;
}

export function kvTruth(problem: LayerProblem): KvTruth | null {
  const units = problem.costs.length;
  const gpus = problem.speeds.length;
  const phases = problem.phases ?? [{ weight: 1, costs: problem.costs, groupCosts: problem.groupCosts }];
  const group = (u: number) => problem.unit2group?.[u] ?? -1 - u;
  const unit2gpu = new Array<number>(units).fill(-1);
  const pairs: [number, number][] = [];
  const visit = (u: number): void => {
    if (u === units) {
      const counts = new Array<number>(gpus).fill(0);
      const stored = Array.from({ length: gpus }, () => new Set<number>());
      unit2gpu.forEach((g, v) => {
        counts[g] += 1;
        stored[g].add(group(v));
      });
      if (counts.some((n) => n < problem.minUnitsPerGpu || n > problem.maxUnitsPerGpu)) return;
      if (stored.some((set) => set.size > (problem.maxGroupsPerGpu ?? Infinity))) return;
      const kvHeads = stored.reduce((s, set) => s + set.size, 0);
      if (problem.unit2group && kvHeads > (problem.maxStoredGroups ?? Infinity)) return;
      let objective = 0;
      for (const phase of phases) {
        let worst = 0;
        for (let g = 0; g < gpus; g++) {
          let sum = 0;
          unit2gpu.forEach((h, v) => {
            if (h === g) sum += phase.costs[v];
          });
          for (const k of stored[g]) if (k >= 0) sum += phase.groupCosts?.[k] ?? 0;
          worst = Math.max(worst, sum / problem.speeds[g]);
        }
        objective += phase.weight * worst;
      }
      pairs.push([objective, kvHeads]);
      return;
    }
    const pin = problem.unit2pin?.[u] ?? -1;
    for (let g = 0; g < gpus; g++) {
      if (pin >= 0 && g !== pin) continue;
      unit2gpu[u] = g;
      visit(u + 1);
    }
  };
  visit(0);
  if (pairs.length === 0) return null;
  return {
    optimum: Math.min(...pairs.map((p) => p[0])),
    fewestStored: Math.min(...pairs.map((p) => p[1])),
    fewestStoredWithin: (limit) => Math.min(...pairs.filter((p) => p[0] <= limit).map((p) => p[1])),
  };
}

/**
 * Small GQA layers with every KV feature: 2-4 GPUs, groups of 2 or 3 query heads (at most 8
 * heads), costs from few values or distinct, group costs none / small / decode-like (large), a
 * KV-cache cap factor, a per-GPU group limit, a pin, speeds, a two-phase mix. Specs no placement
 * can meet are dropped by kvProblemOf.
 */
export function arbitraryKvSpec(): fc.Arbitrary<ProblemSpec> {
  return fc
    .record({
      gpus: fc.integer({ min: 2, max: 4 }),
      groupSize: fc.constantFrom(2, 3),
      groups: fc.integer({ min: 1, max: 4 }),
      rule: fc.constantFrom<UnitsPerGpu['kind']>('equal', 'max', 'free'),
      costs: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 8, maxLength: 8 }),
      fewValues: fc.boolean(),
      copies: fc.constantFrom('none', 'small', 'large'),
      copySeeds: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 4, maxLength: 4 }),
      factor: fc.option(fc.constantFrom(1, 1.25, 1.5, 2, 3), { nil: undefined }),
      limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      pin: fc.option(fc.record({ unit: fc.nat(), gpu: fc.nat() }), { nil: undefined }),
      speeds: fc.constantFrom('equal', 'mixed'),
      mix: fc.boolean(),
    })
    .map((r) => {
      const groups = Math.min(r.groups, Math.floor(8 / r.groupSize));
      const heads = groups * r.groupSize;
      const costs = r.costs.slice(0, heads).map((c) => (r.fewValues ? 10 * (1 + (c % 3)) : c));
      const copy = (k: number) =>
        r.copies === 'none' ? 0 : r.copies === 'small' ? r.copySeeds[k] : 100 * r.copySeeds[k];
      const groupCosts = [Array.from({ length: groups }, (_, k) => copy(k))];
      const unitsPerGpu: UnitsPerGpu =
        r.rule === 'max' ? { kind: 'max', max: Math.ceil(heads / r.gpus) + 1 } : { kind: r.rule };
      const spec: ProblemSpec = {
        headCosts: [costs],
        kvGroupSize: r.groupSize,
        granularity: 'query-head',
        speeds: r.speeds === 'equal' ? new Array<number>(r.gpus).fill(1) : [1, 2, 1.5, 1].slice(0, r.gpus),
        unitsPerGpu,
        groupCosts,
        ...(r.factor !== undefined ? { maxKvCacheFactor: r.factor } : {}),
        ...(r.limit !== undefined ? { maxKvGroupsPerGpu: r.limit } : {}),
        ...(r.pin ? { pins: [{ unit: r.pin.unit % heads, gpu: r.pin.gpu % r.gpus }] } : {}),
        ...(r.mix
          ? {
              phases: [
                { weight: 1, headCosts: [costs], groupCosts },
                {
                  weight: 3,
                  headCosts: [costs.map((c) => 1 + (c % 4))],
                  groupCosts: [groupCosts[0].map((c) => 2 * c + 5)],
                },
              ],
            }
          : {}),
      };
      return spec;
    });
}

/** The layer problem of a spec, or null when its constraints are impossible (a typed 422). */
export function kvProblemOf(spec: ProblemSpec): LayerProblem | null {
  try {
    return buildLayerProblems(spec)[0];
  } catch (error) {
    if (error instanceof HplbError) return null;
    throw error;
  }
}
