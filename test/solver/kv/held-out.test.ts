import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadGlpk } from '../../../src/planner/glpk.ts';
import { createEngines } from '../../../src/solver/engines/index.ts';
import { constraintViolation } from '../../../src/solver/layer-result.ts';
import { buildLayerProblems } from '../../../src/solver/problem.ts';
import { HELD_OUT_MODELS, heldOutSpec, independentMilpBeats } from './held-out.ts';

const glpk = await loadGlpk();
const engines = createEngines(glpk);
/** The independent check's time, ms: far above what it needs (a few seconds on a busy machine). */
const CHECK_MS = 60_000;

describe('held-out GQA shapes against an independent integer program', () => {
  const cases = HELD_OUT_MODELS.flatMap((model) =>
    [8, 4]
      .filter((gpus) => model.queryHeads % gpus === 0 && !(gpus === 4 && model.kvHeads === 8))
      .map((gpus) => ({ model, gpus })),
  );
  for (const { model, gpus } of cases) {
    it(`${model.name} at G=${gpus}, caps 1.0 to 2.0: caps kept, no optimum refuted, KV heads proven least`, () => {
      for (const factor of [1, 1.25, 1.5, 2]) {
        const problem = buildLayerProblems(heldOutSpec(model, gpus, 7, factor))[0];
        const result = engines.auto.solveLayer(problem, { timeLimitMs: 2000, gapTolerance: 1e-6 });
        const what = `factor ${factor}: ${result.status} at ${result.makespan}, KV ${result.kvHeadsStored} (${result.kvStatus})`;
        assert.equal(constraintViolation(problem, result.unit2gpu), null, what);
        assert.ok(result.kvHeadsStored! <= problem.maxStoredGroups!, `cap kept (${what})`);
        // The check has teeth: it finds the answer's own makespan.
        assert.equal(independentMilpBeats(glpk, problem, result.makespan * (1 + 1e-9), CHECK_MS), true, what);
        if (result.status === 'optimal' || result.status === 'within_tolerance') {
          const beaten = independentMilpBeats(glpk, problem, result.makespan * (1 - 1e-5), CHECK_MS);
          assert.equal(beaten, false, `the independent program beats the claimed optimum (${what})`);
        }
        if (result.kvStatus === 'optimal' && result.kvHeadsStored! > 0) {
          const fewer = { ...problem, maxStoredGroups: result.kvHeadsStored! - 1 };
          const beaten = independentMilpBeats(glpk, fewer, result.makespan * (1 + 1e-12), CHECK_MS);
          assert.equal(beaten, false, `the independent program stores fewer KV heads within the makespan (${what})`);
        }
      }
    });
  }
});
