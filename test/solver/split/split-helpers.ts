import fc from 'fast-check';
import type { HeadBudget } from '../../../src/profiles/profile.ts';
import type { LayerSplits } from '../../../src/solver/split/types.ts';
import type { LayerProblem } from '../../../src/solver/types.ts';

export interface SplitCase {
  readonly problem: LayerProblem & { splits: LayerSplits };
}

/**
 * Random small split problems: 2-4 GPUs, 2-8 units with a few heavy ones, fixed and per-part
 * costs, rows whose work follows a causal budget (or none: rows cost alike), speeds, every
 * units-per-GPU rule, a pin now and then.
 */
export function arbitrarySplitCase(maxUnits: number, maxGpus = 4): fc.Arbitrary<SplitCase> {
  return fc
    .record({
      gpus: fc.integer({ min: 2, max: maxGpus }),
      units: fc.integer({ min: 2, max: maxUnits }),
      seedCosts: fc.array(fc.integer({ min: 1, max: 100 }), { minLength: maxUnits, maxLength: maxUnits }),
      heavy: fc.integer({ min: 0, max: 3 }),
      fixed: fc.constantFrom(0, 0.5, 2),
      overhead: fc.constantFrom(0, 0.5, 3),
      rows: fc.integer({ min: 16, max: 4096 }),
      attended: fc.array(fc.option(fc.integer({ min: 1, max: 5000 }), { nil: null }), {
        minLength: maxUnits,
        maxLength: maxUnits,
      }),
      speeds: fc.constantFrom([1, 1, 1, 1], [1, 0.5, 2, 1], [1.5, 1, 1, 0.5]),
      rule: fc.constantFrom('equal', 'max', 'free'),
      maxSplitHeads: fc.integer({ min: 1, max: 3 }),
      maxPartsPerHead: fc.integer({ min: 2, max: 3 }),
      pin: fc.option(fc.record({ unit: fc.nat(), gpu: fc.nat() }), { nil: undefined }),
    })
    .map((r) => {
      const units = r.rule === 'equal' ? Math.max(r.gpus, r.units - (r.units % r.gpus)) : r.units;
      const seed = (u: number) => r.seedCosts[u % r.seedCosts.length];
      const costs = Array.from({ length: units }, (_, u) => seed(u) * (u < r.heavy ? 10 : 1) + r.fixed);
      const min = r.rule === 'equal' ? units / r.gpus : 0;
      const max = r.rule === 'equal' ? units / r.gpus : r.rule === 'max' ? Math.ceil(units / r.gpus) + 1 : units;
      const unit2pin = r.pin ? costs.map((_, u) => (u === r.pin!.unit % units ? r.pin!.gpu % r.gpus : -1)) : undefined;
      const budget = (u: number): HeadBudget | null => {
        const a = r.attended[u % r.attended.length];
        return a === null ? null : { kind: 'streaming', sink: 0, recent: a };
      };
      const problem: LayerProblem & { splits: LayerSplits } = {
        layer: 0,
        costs,
        speeds: r.speeds.slice(0, r.gpus),
        minUnitsPerGpu: min,
        maxUnitsPerGpu: max,
        ...(unit2pin ? { unit2pin } : {}),
        splits: {
          maxSplitHeads: r.maxSplitHeads,
          maxPartsPerHead: r.maxPartsPerHead,
          rows: r.rows,
          units: costs.map((c, u) => ({
            variable: c - r.fixed,
            partOverhead: r.overhead,
            heads: [{ budget: budget(u), variable: c - r.fixed }],
            kvGroup: Math.floor(u / 2),
          })),
        },
      };
      return { problem };
    });
}

/**
 * Two GPUs, two heads each, one head of 90 and three of 10 (900 rows, free parts, no shared KV):
 * whole heads give 100 against a fluid bound of 60, which McNaughton's wrap-around reaches.
 */
export function heavyHeadCase() {
  const costs = [90, 10, 10, 10];
  return {
    layer: 0,
    costs,
    speeds: [1, 1],
    minUnitsPerGpu: 2,
    maxUnitsPerGpu: 2,
    splits: {
      maxSplitHeads: 1,
      maxPartsPerHead: 2,
      rows: 900,
      units: costs.map((c, u) => ({
        variable: c,
        partOverhead: 0,
        heads: [{ budget: null, variable: c }],
        kvGroup: u,
      })),
    },
  };
}
