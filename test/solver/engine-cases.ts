import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildLayerProblems, type ProblemSpec } from '../../src/solver/problem.ts';
import type { LayerEngine, LayerProblem } from '../../src/solver/types.ts';
import { assertValidLayerResult, bruteForceOptimum } from './helpers.ts';

/** A named small problem; `optimal` says whether the engine is expected to reach the optimum. */
interface EngineCase {
  readonly name: string;
  readonly spec: ProblemSpec;
}

const base = { kvGroupSize: 1, granularity: 'query-head', unitsPerGpu: { kind: 'equal' } } as const;

/** Cases every engine must answer correctly; each exercises one constraint kind. */
export const ENGINE_CASES: readonly EngineCase[] = [
  { name: 'equal counts, identical GPUs', spec: { ...base, headCosts: [[9, 7, 6, 5, 4, 4, 2, 1]], speeds: [1, 1] } },
  { name: 'one dominant head', spec: { ...base, headCosts: [[100, 1, 1, 1, 1, 1]], speeds: [1, 1, 1] } },
  { name: 'all costs equal', spec: { ...base, headCosts: [[5, 5, 5, 5, 5, 5, 5, 5]], speeds: [1, 1, 1, 1] } },
  {
    name: 'mixed GPU speeds, free counts',
    spec: { ...base, unitsPerGpu: { kind: 'free' }, headCosts: [[8, 8, 6, 5, 3, 2, 2]], speeds: [2, 1, 0.5] },
  },
  {
    name: 'at most N units per GPU',
    spec: { ...base, unitsPerGpu: { kind: 'max', max: 3 }, headCosts: [[10, 9, 1, 1, 1, 1, 1]], speeds: [1, 1, 1] },
  },
  {
    name: 'KV-group limit',
    spec: {
      ...base,
      kvGroupSize: 2,
      maxKvGroupsPerGpu: 1,
      headCosts: [[9, 1, 8, 2, 7, 3, 6, 4]],
      speeds: [1, 1, 1, 1],
    },
  },
  {
    name: 'KV-group units',
    spec: { ...base, kvGroupSize: 2, granularity: 'kv-group', headCosts: [[9, 1, 8, 2, 7, 3, 6, 4]], speeds: [1, 1] },
  },
  {
    name: 'pinned units',
    spec: {
      ...base,
      pins: [
        { unit: 0, gpu: 0 },
        { unit: 1, gpu: 0 },
      ],
      headCosts: [[9, 8, 7, 6, 5, 4]],
      speeds: [1, 1, 1],
    },
  },
  { name: 'one GPU', spec: { ...base, headCosts: [[3, 2, 1]], speeds: [1] } },
  { name: 'zero-cost heads', spec: { ...base, headCosts: [[0, 0, 4, 0, 3, 0]], speeds: [1, 1] } },
];

export interface EngineExpectation {
  /** The engine must reach the brute-force optimum (exact engines). */
  readonly exact: boolean;
  /** Cases the engine may refuse with an HplbError (e.g. contiguous breaks a pin). */
  readonly mayRefuse?: (problem: LayerProblem) => boolean;
}

/** Runs every case against one engine: a valid result always, the optimum when exact. */
export function describeEngineCases(engine: LayerEngine, expectation: EngineExpectation): void {
  describe(`engine ${engine.name} on the shared cases`, () => {
    for (const c of ENGINE_CASES) {
      it(c.name, () => {
        const problem = buildLayerProblems(c.spec)[0];
        if (expectation.mayRefuse?.(problem)) {
          assert.throws(() => engine.solveLayer(problem, { timeLimitMs: 2000, gapTolerance: 1e-4 }), {
            name: 'HplbError',
          });
          return;
        }
        const result = engine.solveLayer(problem, { timeLimitMs: 2000, gapTolerance: 1e-4 });
        assertValidLayerResult(problem, result);
        const optimum = bruteForceOptimum(problem);
        assert.ok(optimum !== null);
        assert.ok(result.lowerBound <= optimum * (1 + 1e-12), 'the bound never exceeds the true optimum');
        if (expectation.exact) {
          assert.ok(
            Math.abs(result.makespan - optimum) <= 1e-9 * optimum,
            `reaches the optimum ${optimum}, got ${result.makespan}`,
          );
          assert.ok(['optimal', 'within_tolerance', 'trivial'].includes(result.status), `status ${result.status}`);
        }
      });
    }
  });
}
