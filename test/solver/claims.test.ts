import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveCostModel } from '../../src/cost/registry.ts';
import { fluidBound, largestUnitBound, layerLowerBound, pigeonholeBound } from '../../src/solver/bounds.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner } from '../../src/planner/layer-task.ts';
import { resolveRequest } from '../../src/planner/request.ts';
import { solvePlan } from '../../src/planner/solve-plan.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { createEngines } from '../../src/solver/engines/index.ts';
import { differencingEngine } from '../../src/solver/engines/differencing.ts';
import { createIlpEngine, solveIlp } from '../../src/solver/engines/ilp.ts';
import { partitionSearchApplies, partitionSearchEngine } from '../../src/solver/engines/partition-search.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';
import type { LayerEngine, LayerProblem, LayerResult } from '../../src/solver/types.ts';
import {
  FAST_CHECK_SEED,
  arbitrarySpec,
  assertOnProblems,
  assertValidLayerResult,
  bruteForceOptimum,
  problemOf,
} from './helpers.ts';

const glpk = await loadGlpk();
const engines = createEngines(glpk);
const ENGINES: readonly LayerEngine[] = [
  ...Object.values(engines),
  createIlpEngine(glpk, 'textbook'),
  differencingEngine,
  partitionSearchEngine,
];
const options = { timeLimitMs: 2000, gapTolerance: 1e-4 };

/**
 * What a result claims, checked against the true optimum: its bound is never above it, and
 * `optimal` / `within_tolerance` hold for the makespan itself, not just for the reported gap.
 */
function assertClaimsHold(problem: LayerProblem, result: LayerResult, optimum: number, gapTolerance: number): void {
  assertValidLayerResult(problem, result);
  const what = `${result.engine}: ${result.status} at ${result.makespan}, bound ${result.lowerBound}, optimum ${optimum}`;
  assert.ok(result.lowerBound <= optimum * (1 + 1e-12), `bound above the optimum (${what})`);
  assert.ok(result.makespan >= optimum * (1 - 1e-12), `makespan below the optimum (${what})`);
  if (result.status === 'optimal' || result.status === 'trivial')
    assert.ok(result.makespan <= optimum * (1 + 2e-9), `false optimal (${what})`);
  if (result.status === 'within_tolerance')
    assert.ok(
      result.makespan * (1 - gapTolerance * (1 + 1e-9)) <= optimum * (1 + 1e-12),
      `false within_tolerance (${what})`,
    );
}

describe('claims with fractional costs and speeds', () => {
  const cases = [
    {
      name: 'free counts, two GPUs',
      costs: [5.9, 3.7, 1, 9.3, 1.6, 1.1],
      speeds: [1, 1],
      unitsPerGpu: { kind: 'free' } as const,
      optimum: 11.4,
    },
    {
      name: 'equal counts, speeds 1 and 1.3',
      costs: [8.3, 3, 8.1, 9.9, 3.1, 1.8],
      speeds: [1, 1.3],
      unitsPerGpu: { kind: 'equal' } as const,
      optimum: 19.4 / 1.3,
    },
  ];
  for (const c of cases) {
    const problem = buildLayerProblems({
      headCosts: [c.costs],
      kvGroupSize: 1,
      granularity: 'query-head',
      speeds: c.speeds,
      unitsPerGpu: c.unitsPerGpu,
    })[0];
    it(`${c.name}: the optimum is found and no engine claims a bound above it`, () => {
      const optimum = bruteForceOptimum(problem)!;
      assert.ok(Math.abs(optimum - c.optimum) <= 1e-12 * c.optimum, `brute force ${optimum}`);
      for (const engine of ENGINES) {
        const result = engine.solveLayer(problem, options);
        assertClaimsHold(problem, result, optimum, options.gapTolerance);
        const exact =
          !['greedy', 'contiguous', 'differencing', 'partition'].includes(engine.name) ||
          (engine.name === 'partition' && partitionSearchApplies(problem));
        if (exact) assert.ok(result.makespan <= optimum * (1 + 1e-9), `${engine.name} reaches the optimum`);
      }
    });
  }

  it('the flagship at 4 GPUs with speeds 1,2,1,2 and free counts (8 layers): no claimed bound is beaten by GLPK', async () => {
    const registry = loadRegistry();
    const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel };
    // A roofline: fractional microsecond costs.
    const resolved = resolveRequest(
      {
        model: 'llama-3-8b-instruct-262k-minference',
        gpus: { count: 4, speeds: [1, 2, 1, 2] },
        constraints: { unitsPerGpu: 'free' },
        costModel: 'roofline:h100-sxm',
      },
      context,
    );
    assert.ok(
      resolved.layers[0].costs.some((c) => !Number.isInteger(c)),
      'costs are fractional',
    );
    // The first eight layers hold all five of the profile's distinct budgets; all 32 layers took 14 s.
    const plan = await solvePlan(
      { ...resolved, layers: resolved.layers.slice(0, 8) },
      createInlineRunner(glpk, engines),
    );
    for (const layer of plan.layers) {
      const problem = resolved.layers[layer.layer];
      assertValidLayerResult(problem, layer);
      // An independent engine (GLPK on the aggregated model, no incumbent) searches for a
      // placement; whatever it finds must not beat the plan's claimed bound.
      const independent = solveIlp(glpk, problem, { timeLimitMs: 2000, gapTolerance: 1e-6 });
      if (independent.unit2gpu.length === 0) continue;
      assert.ok(
        independent.makespan >= layer.lowerBound * (1 - 1e-12),
        `layer ${layer.layer}: GLPK found ${independent.makespan} below the claimed bound ${layer.lowerBound} (${layer.status})`,
      );
      if (layer.status === 'optimal')
        assert.ok(
          layer.makespan <= independent.makespan * (1 + 2e-9),
          `layer ${layer.layer}: claimed optimal at ${layer.makespan}, GLPK found ${independent.makespan}`,
        );
    }
  });
});

describe("every engine's claim against brute force on random problems", () => {
  for (const costKind of ['fractional', 'integer'] as const) {
    for (const engine of ENGINES) {
      it(`${engine.name}, ${costKind} costs: bound, status and makespan agree with the optimum`, () => {
        fc.assert(
          fc.property(arbitrarySpec(9, costKind), fc.constantFrom(1e-4, 1e-6, 0), (spec, gapTolerance) => {
            const problem = problemOf(spec);
            if (!problem) return;
            const optimum = bruteForceOptimum(problem);
            if (optimum === null) return;
            let result: LayerResult;
            try {
              result = engine.solveLayer(problem, { timeLimitMs: 2000, gapTolerance });
            } catch (error) {
              // Heuristics may refuse with a typed infeasibility (a broken pin, a trapped KV limit).
              if (
                error instanceof Error &&
                error.name === 'HplbError' &&
                ['greedy', 'contiguous', 'differencing', 'partition'].includes(engine.name)
              )
                return;
              throw error;
            }
            assertClaimsHold(problem, result, optimum, gapTolerance);
            // The exact searches close the gap on these small cases (the ILP only to its precision).
            if (['search', 'partition'].includes(result.engine) && result.status !== 'heuristic') {
              assert.ok(
                result.makespan * (1 - Math.max(gapTolerance, 1e-9) * (1 + 1e-9)) <= optimum * (1 + 1e-12),
                `${result.engine} stops short of the tolerance`,
              );
            }
          }),
          { numRuns: costKind === 'fractional' ? 200 : 60, seed: FAST_CHECK_SEED },
        );
      });
    }
  }
});

describe('every lower bound is valid on random problems', () => {
  const BOUNDS = { fluidBound, largestUnitBound, pigeonholeBound, layerLowerBound };
  for (const costKind of ['fractional', 'integer'] as const) {
    it(`${costKind} costs: no bound exceeds the brute-force optimum`, () => {
      assertOnProblems(arbitrarySpec(9, costKind), { numRuns: 200, seed: FAST_CHECK_SEED }, (problem) => {
        const optimum = bruteForceOptimum(problem);
        if (optimum === null) return;
        for (const [name, bound] of Object.entries(BOUNDS)) {
          const value = bound(problem);
          assert.ok(
            Number.isFinite(value) && value <= optimum * (1 + 1e-12),
            `${name} ${value} above the optimum ${optimum}`,
          );
        }
      });
    });
  }
});
