import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { binPackingBound, effectiveMinUnits } from '../../src/solver/bounds-dm.ts';
import {
  fluidBound,
  integerRoundedBound,
  largestUnitBound,
  layerLowerBound,
  pigeonholeBound,
} from '../../src/solver/bounds.ts';
import type { LayerProblem } from '../../src/solver/types.ts';
import { FAST_CHECK_SEED, bruteForceOptimum } from './helpers.ts';

/** The bounds layerLowerBound had before the packing bounds: what every new bound must beat. */
function simpleBound(problem: LayerProblem): number {
  return Math.max(fluidBound(problem), largestUnitBound(problem), pigeonholeBound(problem));
}

function layer(costs: number[], speeds: number[], minUnitsPerGpu: number, maxUnitsPerGpu: number): LayerProblem {
  return { layer: 0, costs, speeds, minUnitsPerGpu, maxUnitsPerGpu };
}

/**
 * Random small layers, built directly so every count rule is reached, including a maximum tight
 * enough to force a minimum (max = ceil(units / gpus)): 2-4 GPUs, 2-8 units, integer or
 * fractional costs (one decimal, calibrated-like, arbitrary doubles), equal or mixed speeds.
 */
const arbitraryLayer = fc
  .record({
    gpus: fc.integer({ min: 2, max: 4 }),
    units: fc.integer({ min: 2, max: 8 }),
    seeds: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 8, maxLength: 8 }),
    scale: fc.constantFrom(1, 1000, 0.1, 1e6 + 0.37, 0.7310585786300049),
    speeds: fc.option(fc.array(fc.constantFrom(0.7, 1, 1.3, 2), { minLength: 4, maxLength: 4 }), { nil: undefined }),
    rule: fc.constantFrom('equal', 'tight-max', 'max', 'free'),
  })
  .map(({ gpus, units: drawn, seeds, scale, speeds, rule }) => {
    // Equal counts need a multiple of the GPU count.
    const units = rule === 'equal' ? Math.max(gpus, drawn - (drawn % gpus)) : drawn;
    const costs = seeds.slice(0, units).map((c) => c * scale);
    const each = Math.ceil(units / gpus);
    const limits: Record<string, [number, number]> = {
      equal: [each, each],
      'tight-max': [0, each],
      max: [0, each + 1],
      free: [0, units],
    };
    const [min, max] = limits[rule];
    return layer(costs, speeds ? speeds.slice(0, gpus) : new Array<number>(gpus).fill(1), min, max);
  });

describe('packing lower bounds are valid', () => {
  const BOUNDS: Record<string, (p: LayerProblem) => number> = {
    'bin packing alone': (p) => binPackingBound(p),
    'bin packing above the simple bounds': (p) => binPackingBound(p, simpleBound(p)),
    'pigeonhole with the forced minimum': pigeonholeBound,
    'integer rounding of the simple bounds': (p) => integerRoundedBound(p, simpleBound(p)),
    layerLowerBound,
  };
  it('no bound exceeds the brute-force optimum (random layers, every count rule, both cost kinds)', () => {
    fc.assert(
      fc.property(arbitraryLayer, (problem) => {
        const optimum = bruteForceOptimum(problem);
        if (optimum === null) return;
        for (const [name, bound] of Object.entries(BOUNDS)) {
          const value = bound(problem);
          const what = `${name} ${value} above the optimum ${optimum}`;
          assert.ok(Number.isFinite(value) && value <= optimum * (1 + 1e-12), what);
        }
      }),
      { numRuns: 400, seed: FAST_CHECK_SEED },
    );
  });

  it('the forced minimum is what the other GPUs leave over', () => {
    assert.equal(effectiveMinUnits(layer([1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1], 0, 2)), 2);
    assert.equal(effectiveMinUnits(layer([1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1], 0, 2)), 1);
    assert.equal(effectiveMinUnits(layer([1, 1, 1, 1, 1], [1, 1, 1, 1], 0, 5)), 0);
  });
});

describe('each packing bound is strictly stronger than the simple bounds somewhere', () => {
  // Fractional costs, so that integer rounding plays no part in the bin-packing cases.
  const PACKING_CASES = [
    {
      name: 'free counts (units above C / 2 on distinct GPUs)',
      problem: layer([0.9, 0.5, 0.7, 1.5, 1.5, 0.1], [1, 1, 1], 0, 6),
    },
    {
      name: 'at most 4 per GPU (count of units in [p, C / 2])',
      problem: layer([0.8, 0.6, 1.8, 0.2, 1.1, 0.9, 1.4], [1, 1, 1], 0, 4),
    },
    { name: 'equal counts', problem: layer([0.7, 0.2, 1.8, 0.8, 0.2, 1.2], [1, 1], 3, 3) },
    { name: 'equal fast speeds, free counts', problem: layer([0.9, 1.4, 1.4, 0.4, 0.4], [1.5, 1.5, 1.5], 0, 5) },
    {
      name: 'mixed speeds, equal counts (relaxed to the fastest)',
      problem: layer([0.6, 0.7, 0.8, 0.2, 0.6, 0.6], [2, 1.5, 2], 2, 2),
    },
  ];
  for (const { name, problem } of PACKING_CASES) {
    it(`bin packing: ${name}`, () => {
      const optimum = bruteForceOptimum(problem);
      assert.ok(optimum !== null);
      const simple = simpleBound(problem);
      const packing = binPackingBound(problem, simple);
      assert.ok(packing > simple * (1 + 1e-3), `packing ${packing} not above the simple bound ${simple}`);
      assert.ok(packing <= optimum * (1 + 1e-12), `packing ${packing} above the optimum ${optimum}`);
      assert.ok(layerLowerBound(problem) >= packing, 'layerLowerBound takes it');
    });
  }

  it('pigeonhole with the minimum a tight maximum forces', () => {
    // Two GPUs, at most 2 of 4 units each: both hold exactly 2, so the 0.9 unit has a companion.
    const problem = layer([0.9, 0.1, 0.1, 0.1], [1, 1], 0, 2);
    // Without the maximum the pigeonhole bound has no minimum to count (what it counted before).
    const withoutForcedMinimum = pigeonholeBound({ ...problem, maxUnitsPerGpu: 4 });
    const optimum = bruteForceOptimum(problem);
    assert.ok(optimum !== null);
    const before = Math.max(withoutForcedMinimum, fluidBound(problem), largestUnitBound(problem));
    assert.ok(pigeonholeBound(problem) > before * (1 + 1e-3));
    assert.ok(Math.abs(pigeonholeBound(problem) - optimum) <= 1e-12, 'meets the optimum 0.9 + 0.1');
  });

  it('integer rounding with whole-number costs and equal speeds, and only then', () => {
    const whole = layer([3, 3, 2, 2, 1], [1, 1], 0, 5);
    assert.ok(simpleBound(whole) < bruteForceOptimum(whole)!);
    assert.ok(layerLowerBound(whole) > simpleBound(whole));
    assert.equal(layerLowerBound(whole), bruteForceOptimum(whole));
    const halves = layer([3, 3, 2, 2, 1], [2, 2], 0, 5);
    assert.equal(integerRoundedBound(halves, simpleBound(halves)), bruteForceOptimum(halves));
    // Fractional costs or mixed speeds: makespans are not on a grid, nothing is rounded.
    const fractional = layer([0.3, 0.3, 0.2, 0.2, 0.1], [1, 1], 0, 5);
    assert.equal(integerRoundedBound(fractional, 0.55), 0.55);
    const mixed = layer([3, 3, 2, 2, 1], [1, 2], 0, 5);
    assert.equal(integerRoundedBound(mixed, 3.5), 3.5);
  });
});
