import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner, createLayerSolver, solveLayerTask, type LayerTask } from '../../src/planner/layer-task.ts';
import { createEngines } from '../../src/solver/engines/index.ts';
import { GLPK_STRETCH, nextGlpkStretch } from '../../src/solver/engines/portfolio.ts';
import { buildLayerProblems } from '../../src/solver/problem.ts';
import type { LayerEngine, SolveOptions } from '../../src/solver/types.ts';

const glpk = await loadGlpk();

// Few distinct costs on unequal GPUs: the configuration search runs out of its share and auto runs GLPK.
const task: LayerTask = {
  problem: buildLayerProblems({
    headCosts: [Array.from({ length: 96 }, (_, h) => [97, 107, 113, 131, 151, 173][h % 6])],
    kvGroupSize: 1,
    granularity: 'query-head',
    speeds: [1, 1.1, 1.3, 1, 2, 1.7, 1, 1],
    unitsPerGpu: { kind: 'free' },
  })[0],
  engine: 'auto',
  timeLimitMs: 1000,
  gapTolerance: 1e-9,
};

/**
 * The real auto engine on a clock that moves 1 ms each time it is read (the same steps and
 * reports on any machine), recording the stretch each solve was given and the runs it reported.
 */
function recordingEngines() {
  const engines = createEngines(glpk);
  const seen: { stretch: number | undefined; runs: [number, number][] }[] = [];
  const auto: LayerEngine = {
    ...engines.auto,
    solveLayer(problem, options: SolveOptions) {
      const call = { stretch: options.glpkStretch, runs: [] as [number, number][] };
      seen.push(call);
      let tick = 0;
      return engines.auto.solveLayer(problem, {
        ...options,
        now: () => (tick += 1),
        onGlpkRun: (given, took) => {
          call.runs.push([given, took]);
          options.onGlpkRun?.(given, took);
        },
      });
    },
  };
  return { engines: { ...engines, auto }, seen };
}

/** The stretch a solve should get after the runs the solve before it reported. */
const after = (stretch: number, runs: readonly [number, number][]) =>
  runs.reduce((s, [given, took]) => nextGlpkStretch(s, given, took), stretch);

test("the inline runner keeps GLPK's stretch across layers: the second solve gets the first one's update", async () => {
  const { engines, seen } = recordingEngines();
  const runner = createInlineRunner(glpk, engines);
  await runner.run(task);
  await runner.run(task);
  assert.equal(seen[0].stretch, GLPK_STRETCH, 'a fresh runner starts from the first guess');
  assert.ok(seen[0].runs.length > 0, 'the first solve ran GLPK');
  assert.equal(seen[1].stretch, after(GLPK_STRETCH, seen[0].runs));
  assert.notEqual(seen[1].stretch, GLPK_STRETCH, 'GLPK took less than it was given on this clock: the estimate fell');
  // Another runner keeps its own estimate.
  const other = recordingEngines();
  await createInlineRunner(glpk, other.engines).run(task);
  assert.equal(other.seen[0].stretch, GLPK_STRETCH);
});

test("a worker's solver (createLayerSolver) passes each task the estimate the tasks before it left", () => {
  const { engines, seen } = recordingEngines();
  const solver = createLayerSolver(glpk, engines);
  for (let i = 0; i < 3; i++) {
    solveLayerTask(task, solver);
  }
  assert.equal(seen[0].stretch, GLPK_STRETCH);
  assert.equal(seen[1].stretch, after(GLPK_STRETCH, seen[0].runs));
  assert.equal(seen[2].stretch, after(seen[1].stretch!, seen[1].runs));
  assert.equal(solver.glpkStretch?.value, after(seen[2].stretch!, seen[2].runs));
});
