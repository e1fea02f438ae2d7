import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HplbError } from '../../src/errors.ts';
import { constraintViolation, gpuLoadsOf, relativeGap } from '../../src/solver/layer-result.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';
import type { LayerProblem, LayerResult, UnitsPerGpu } from '../../src/solver/types.ts';

/** Every invariant of a layer result that does not depend on the engine. */
export function assertValidLayerResult(problem: LayerProblem, result: LayerResult): void {
  const units = problem.costs.length;
  const gpus = problem.speeds.length;
  assert.equal(result.layer, problem.layer);
  assert.equal(result.unit2gpu.length, units);
  assert.equal(constraintViolation(problem, result.unit2gpu), null, 'every constraint holds');
  assert.equal(result.gpu2units.length, gpus);
  const seen = new Set<number>();
  result.gpu2units.forEach((list, g) => {
    for (const u of list) {
      assert.equal(result.unit2gpu[u], g, `gpu2units and unit2gpu agree on unit ${u}`);
      assert.ok(!seen.has(u), `unit ${u} placed once`);
      seen.add(u);
    }
  });
  assert.equal(seen.size, units, 'every unit placed');
  assert.deepEqual(result.permutation, result.gpu2units.flat(), 'permutation is GPU-major');
  assert.deepEqual(
    [...result.permutation].sort((a, b) => a - b),
    Array.from({ length: units }, (_, u) => u),
  );
  const loads = gpuLoadsOf(problem, result.unit2gpu);
  loads.forEach((l, g) =>
    assert.ok(Math.abs(l - result.gpuLoads[g]) <= 1e-9 * Math.max(1, l), `load of GPU ${g} recomputes`),
  );
  assert.ok(Math.abs(result.makespan - Math.max(...loads)) <= 1e-9 * Math.max(1, result.makespan));
  assert.ok(result.lowerBound <= result.makespan * (1 + 1e-12), 'bound <= makespan');
  assert.ok(Math.abs(result.gap - relativeGap(result.makespan, result.lowerBound)) <= 1e-12, 'gap formula');
  if (result.status === 'optimal') assert.ok(result.gap <= 1e-9, 'optimal only when the bound is met');
}

/**
 * Exact optimum by enumerating every assignment, unit by unit, skipping only branches that
 * already break a count, pin or KV-group limit or whose loads already reach the best found (loads
 * only grow). Loads are summed in unit order, exactly as gpuLoadsOf does. Small instances only.
 */
export function bruteForceOptimum(problem: LayerProblem): number | null {
  const units = problem.costs.length;
  const gpus = problem.speeds.length;
  const sums = new Array<number>(gpus).fill(0);
  const counts = new Array<number>(gpus).fill(0);
  const groups = Array.from({ length: gpus }, () => new Map<number, number>());
  let best: number | null = null;
  const visit = (u: number): void => {
    if (u === units) {
      if (counts.some((n) => n < problem.minUnitsPerGpu)) return;
      const makespan = Math.max(...sums.map((s, g) => s / problem.speeds[g]));
      if (best === null || makespan < best) best = makespan;
      return;
    }
    let missing = 0;
    for (const n of counts) missing += Math.max(0, problem.minUnitsPerGpu - n);
    if (missing > units - u) return;
    const pin = problem.unit2pin?.[u] ?? -1;
    const group = problem.unit2group?.[u];
    for (let g = 0; g < gpus; g++) {
      if ((pin >= 0 && g !== pin) || counts[g] >= problem.maxUnitsPerGpu) continue;
      const present = group === undefined ? 0 : (groups[g].get(group) ?? 0);
      if (group !== undefined && present === 0 && groups[g].size >= (problem.maxGroupsPerGpu ?? Infinity)) continue;
      const before = sums[g];
      sums[g] += problem.costs[u];
      if (best === null || sums[g] / problem.speeds[g] < best) {
        counts[g] += 1;
        if (group !== undefined) groups[g].set(group, present + 1);
        visit(u + 1);
        counts[g] -= 1;
        if (group !== undefined) {
          if (present === 0) groups[g].delete(group);
          else groups[g].set(group, present);
        }
      }
      sums[g] = before;
    }
  };
  visit(0);
  return best;
}

export interface RandomSpec {
  headCosts: number[][];
  kvGroupSize: number;
  speeds: number[];
  unitsPerGpu: UnitsPerGpu;
  maxKvGroupsPerGpu?: number;
  pins?: { unit: number; gpu: number }[];
}

/** How the random costs of arbitrarySpec are drawn. */
export type CostKind = 'integer' | 'fractional';

/**
 * Random small problems with every constraint kind: 2-4 GPUs, up to `maxUnits` query heads,
 * costs from a few distinct values (as in real layers) or all distinct, speeds, units-per-GPU
 * rule, KV-group limit and pins. Infeasible combinations are filtered by buildLayerProblems.
 * With `fractional` costs, the values are not whole numbers: one decimal (5.9, as typed by a
 * person), calibrated-like microsecond sums (783464405.37), or arbitrary doubles; speeds too
 * (1.3, 0.7): sums of such values are rounded, which is what exact comparisons get wrong.
 */
export function arbitrarySpec(maxUnits: number, costKind: CostKind = 'integer'): fc.Arbitrary<RandomSpec> {
  const fractional = costKind === 'fractional';
  return fc
    .record({
      gpus: fc.integer({ min: 2, max: 4 }),
      perGpu: fc.integer({ min: 1, max: 3 }),
      fewValues: fc.boolean(),
      seedCosts: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: maxUnits, maxLength: maxUnits }),
      scale: fractional ? fc.constantFrom(0.1, 1e6 + 0.37, 0.7310585786300049) : fc.constant(1),
      speedKind: fc.constantFrom('equal', 'mixed'),
      speedSeed: fc.array(fc.constantFrom(...(fractional ? [0.7, 1, 1.3, 2, 2.25] : [0.5, 1, 1.5, 2])), {
        minLength: 4,
        maxLength: 4,
      }),
      rule: fc.constantFrom<UnitsPerGpu['kind']>('equal', 'max', 'free'),
      groupSize: fc.constantFrom(1, 2),
      kvLimit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      pin: fc.option(fc.record({ unit: fc.nat(), gpu: fc.nat() }), { nil: undefined }),
    })
    .map(({ gpus, perGpu, fewValues, seedCosts, scale, speedKind, speedSeed, rule, groupSize, kvLimit, pin }) => {
      let units = Math.min(maxUnits, gpus * perGpu);
      units -= units % groupSize;
      units = Math.max(units, groupSize);
      const costs = seedCosts
        .slice(0, units)
        .map((c) => (fewValues ? 100 * (1 + (c % 4)) : fractional ? 1 + (c % 100) : c) * scale);
      const unitsPerGpu: UnitsPerGpu =
        rule === 'max' ? { kind: 'max', max: Math.ceil(units / gpus) + 1 } : { kind: rule };
      return {
        headCosts: [costs],
        kvGroupSize: groupSize,
        speeds: speedKind === 'equal' ? new Array<number>(gpus).fill(1) : speedSeed.slice(0, gpus),
        unitsPerGpu,
        ...(kvLimit !== undefined && groupSize > 1 ? { maxKvGroupsPerGpu: kvLimit } : {}),
        ...(pin ? { pins: [{ unit: pin.unit % units, gpu: pin.gpu % gpus }] } : {}),
      };
    });
}

/** The layer problem of a random spec, or null when the spec's constraints are impossible. */
export function problemOf(spec: RandomSpec): LayerProblem | null {
  try {
    return buildLayerProblems({ ...spec, granularity: 'query-head' })[0];
  } catch (error) {
    if (error instanceof HplbError) return null;
    throw error;
  }
}

/**
 * fc.assert of `check` on the problems of random specs (arbitrarySpec); a spec whose constraints
 * are impossible passes.
 */
export function assertOnProblems(
  specs: fc.Arbitrary<RandomSpec>,
  params: fc.Parameters<[RandomSpec]>,
  check: (problem: LayerProblem) => void,
): void {
  fc.assert(
    fc.property(specs, (spec) => {
      const problem = problemOf(spec);
      if (problem) check(problem);
    }),
    params,
  );
}

export const FAST_CHECK_SEED = 20261128;
