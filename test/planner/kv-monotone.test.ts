import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCostModelResolver } from '../../src/cost/registry.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner } from '../../src/planner/layer-task.ts';
import { resolveRequest } from '../../src/planner/request.ts';
import { solvePlan } from '../../src/planner/solve-plan.ts';
import { FLAGSHIP_MODEL } from '../../src/profiles/flagship.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';

const registry = loadRegistry();
const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel: createCostModelResolver() };
const runner = createInlineRunner(await loadGlpk());
const CAPS: readonly (number | null)[] = [1, 1.25, 1.5, 2, null];

/**
 * Plans the first `layers` layers of `model` at each cap of CAPS, loosest last, and checks each
 * meets its cap and is no slower than the plan of cap 1 (whose layers are proven in milliseconds).
 */
async function checkNoWorseThanCapOne(model: string, gpus: number, layers: number): Promise<void> {
  let capOne = Infinity;
  for (const cap of CAPS) {
    const resolved = resolveRequest(
      {
        model,
        gpus: { count: gpus },
        constraints: { maxKvCacheFactor: cap },
        // Short layers: the order must hold for what is found in time, not only for proofs.
        solver: { timeLimitMs: 60_000, layerTimeLimitMs: 300 },
      },
      context,
    );
    const plan = await solvePlan({ ...resolved, layers: resolved.layers.slice(0, layers) }, runner);
    for (const layer of plan.layers) {
      const limit = Math.floor((cap ?? Infinity) * resolved.layers[layer.layer].contiguousKvHeads! + 1e-9);
      assert.ok(layer.kvHeadsStored! <= limit, `cap ${cap}, layer ${layer.layer}: ${layer.kvHeadsStored} stored`);
    }
    if (cap === 1) assert.equal(plan.totals.layersProvenOptimal, layers);
    assert.ok(plan.totals.makespan <= capOne * (1 + 1e-12), `cap ${cap}: ${plan.totals.makespan} > ${capOne} at cap 1`);
    if (cap === 1) capOne = plan.totals.makespan;
  }
}

describe('a looser KV-cache cap', () => {
  for (const gpus of [4, 8]) {
    it(`never plans the flagship slower than cap 1 (G = ${gpus}, caps 1.25 to none)`, async () => {
      await checkNoWorseThanCapOne(FLAGSHIP_MODEL, gpus, 4);
    });
  }

  it('never plans Llama-3-70B slower than cap 1 (G = 4, where looser caps are too hard to prove in time)', async () => {
    await checkNoWorseThanCapOne('llama-3-70b-instruct-262k-minference', 4, 4);
  });
});
