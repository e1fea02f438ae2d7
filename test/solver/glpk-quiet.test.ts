import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import GLPK from 'glpk.js/node';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createEngines } from '../../src/solver/engines/index.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';
import { heavyHeadCase } from './split/split-helpers.ts';

const glpk = await loadGlpk();
const engines = createEngines(glpk);

/** What `run` writes to stdout (GLPK's messages go there through console.log). */
function stdoutOf(run: () => void): string {
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    run();
  } finally {
    process.stdout.write = write;
  }
  return written.join('');
}

/** A GQA layer with copies and a cap above the least: greedy, configurations, GLPK and the second objective all run. */
const kvLayer = buildLayerProblems({
  headCosts: [[318, 46, 48, 88, 318, 318, 46, 46, 88, 48, 318, 46, 88, 88, 48, 318]],
  kvGroupSize: 2,
  granularity: 'query-head',
  speeds: [1, 1, 1, 1],
  unitsPerGpu: { kind: 'equal' },
  groupCosts: [new Array<number>(8).fill(106)],
  maxKvCacheFactor: 1.5,
})[0];

describe('GLPK as loaded here stays silent', () => {
  it("prints nothing even when asked to talk, where glpk.js's own instance does (the check hears it)", async () => {
    const lp = {
      name: 'talk',
      objective: { direction: glpk.GLP_MIN, name: 'o', vars: [{ name: 'a', coef: 1 }] },
      subjectTo: [{ name: 'r', vars: [{ name: 'a', coef: 1 }], bnds: { type: glpk.GLP_LO, lb: 1.5, ub: 0 } }],
      generals: ['a'],
    };
    const raw = await GLPK();
    assert.notEqual(
      stdoutOf(() => raw.solve(lp, { msglev: raw.GLP_MSG_ALL })),
      '',
    );
    assert.equal(
      stdoutOf(() => glpk.solve(lp, { msglev: glpk.GLP_MSG_ALL })),
      '',
    );
  });

  it('prints nothing while the engines solve KV layers and split heads', () => {
    const printed = stdoutOf(() => {
      // With greedy's placement as incumbent, as the planner gives every engine: on a loaded machine
      // GLPK may stop before a placement of its own, and a bare ILP has nothing else to answer with.
      const incumbent = engines.greedy.solveLayer(kvLayer, { timeLimitMs: 500, gapTolerance: 0 }).unit2gpu;
      for (const engine of [engines.auto, engines.ilp])
        engine.solveLayer(kvLayer, { timeLimitMs: 500, gapTolerance: 0, incumbent });
      const split = { ...heavyHeadCase(), splits: { ...heavyHeadCase().splits, maxSplitHeads: 2 } };
      engines.auto.solveLayer(split, { timeLimitMs: 500, gapTolerance: 0 });
    });
    assert.equal(printed, '');
  });
});
