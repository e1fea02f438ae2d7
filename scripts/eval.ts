/**
 * npm run eval: evaluates every profile in models/ (uniform vs adaptive budgets, contiguous vs
 * greedy vs S-HPLB placement at the default KV-cache cap, against the fluid bound; S-HPLB with no
 * cap and with split heads; decode and a prefill + decode mix in a roofline's time; every model's
 * KV-cache frontier) and writes docs/evaluation.json, docs/evaluation.md, the SVG plots and the
 * README's "How much does it help?" section; the solve times, which differ on every run, go to
 * bench/results/eval-timings.json (not committed).
 *
 *   npm run eval [-- --cost-model <name>] [--out-dir docs] [--readme README.md] [--timings FILE]
 *   npm run eval -- --render-only     re-renders the report, plots and README section from the
 *                                      committed docs/evaluation.json without solving anything
 *
 * The prefill cost model defaults to the project's default (executed work); the document records
 * which one, and the staleness test regenerates with that name.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { createCostModelResolver } from '../src/cost/registry.ts';
import { buildDocument, serializeDocument, sortRuns, type EvaluationDocument } from '../src/eval/document.ts';
import { evaluateProfiles, type EvaluationRun } from '../src/eval/evaluate.ts';
import { fixed, times } from '../src/eval/format.ts';
import { evaluateFrontier, type Frontier } from '../src/eval/frontier.ts';
import { dividingGpuCounts } from '../src/eval/loads.ts';
import { createEvalPlanner } from '../src/eval/plans.ts';
import { renderedFiles } from '../src/eval/outputs.ts';
import { renderReadmeSection, updateReadme } from '../src/eval/report.ts';
import {
  EVAL_GPU_COUNTS,
  EVAL_SOLVER,
  EVAL_TIME_COST_MODEL,
  EVAL_WORKLOAD,
  FLAGSHIP,
  FRONTIER_GPU_COUNTS,
  SPLIT_CURVE_GPU_COUNTS,
  SPLIT_SOLVER,
} from '../src/eval/settings.ts';
import { evaluateSplitCurve } from '../src/eval/split.ts';
import { DEFAULT_MAX_KV_CACHE_FACTOR } from '../src/planner/request.ts';
import { createSolverPool } from '../src/pool/solver-pool.ts';
import { loadRegistry } from '../src/profiles/registry.ts';

const args = new Command('eval')
  .description('evaluate every profile in models/ and write the docs/ report, its plots and the README section')
  .option('--cost-model <name>', 'prefill cost model (default: executed-work)')
  .option('--out-dir <dir>', 'where evaluation.json, evaluation.md and the plots go', 'docs')
  .option('--readme <file>', 'README whose eval section is rewritten', 'README.md')
  .option('--timings <file>', 'machine-dependent solve times (not committed)', 'bench/results/eval-timings.json')
  .option('--render-only', "re-render from the out dir's evaluation.json, solving nothing")
  .option(
    '--workers <n>',
    'solver worker threads (each plan is held to its time limit)',
    (v) => Number.parseInt(v, 10),
    1,
  )
  .parse()
  .opts<{
    costModel?: string;
    outDir: string;
    readme: string;
    timings: string;
    renderOnly?: boolean;
    workers: number;
  }>();

/** Writes the report, the plots and the README section of `doc` (and the document itself). */
function writeOutputs(doc: EvaluationDocument): void {
  const outDir = resolve(args.outDir);
  mkdirSync(outDir, { recursive: true });
  const outputs: [string, string][] = [
    ['evaluation.json', serializeDocument(doc)],
    ...renderedFiles(doc).map(([name, render]): [string, string] => [name, render()]),
  ];
  for (const [name, content] of outputs) writeFileSync(join(outDir, name), content);
  const readme = resolve(args.readme);
  writeFileSync(readme, updateReadme(existsSync(readme) ? readFileSync(readme, 'utf8') : '', renderReadmeSection(doc)));
  console.log(
    `wrote ${outputs.map(([name]) => join(args.outDir, name)).join(', ')} and the eval section of ${args.readme}`,
  );
}

if (args.renderOnly) {
  writeOutputs(JSON.parse(readFileSync(join(resolve(args.outDir), 'evaluation.json'), 'utf8')) as EvaluationDocument);
  process.exit(0);
}

const started = performance.now();
const elapsed = (): string => `${fixed((performance.now() - started) / 1000, 0)} s`;
const resolveCostModel = createCostModelResolver();
const costModel = resolveCostModel(args.costModel);
const timeCostModel = resolveCostModel(EVAL_TIME_COST_MODEL);
// The worker pool, as the service solves: a plan is answered by its time limit (an engine still
// running then answers with the best placement it has found), which the inline runner cannot do.
const runner = createSolverPool({ size: args.workers });
await runner.ready();
const planner = createEvalPlanner({
  costModel,
  resolveCostModel,
  workload: EVAL_WORKLOAD,
  solver: EVAL_SOLVER,
  runner,
});
const profiles = loadRegistry().list();
console.log(
  `cost model: ${costModel.name} (unit: ${costModel.unit}); decode and mix: ${timeCostModel.name}; prefill of ${EVAL_WORKLOAD.seqLen} tokens` +
    `; ${profiles.length} profiles, G in ${EVAL_GPU_COUNTS.join(', ')}; default KV-cache cap ${DEFAULT_MAX_KV_CACHE_FACTOR}`,
);

const report = ({ evaluation: e, timings }: EvaluationRun): void => {
  const u = e.unconstrained;
  const seconds = Object.entries(timings.solveMs)
    .map(([column, ms]) => `${column} ${fixed(ms / 1000, 1)}`)
    .join(', ');
  console.log(
    `${e.model.id.padEnd(40)} G=${e.gpus}  cap ${DEFAULT_MAX_KV_CACHE_FACTOR}: (b)/(d) ${times(e.speedup.contiguousOverAuto)} proven ${e.layersProvenOptimal}/${e.model.layers}` +
      `  no cap: ${u.speedupVsContiguous === null ? 'n/a' : times(u.speedupVsContiguous)} at factor ${fixed(u.kvCacheFactor, 3)} proven ${u.layersProven}` +
      `  decode ${e.decode.plan.speedupVsContiguous === null ? 'n/a' : times(e.decode.plan.speedupVsContiguous)}` +
      `  mix ${e.mix.plan.speedupVsContiguous === null ? 'n/a' : times(e.mix.plan.speedupVsContiguous)}  [solve s: ${seconds}; ${elapsed()}]`,
  );
};
const runs = await evaluateProfiles(planner, profiles, EVAL_GPU_COUNTS, report);

const frontiers: Frontier[] = [];
for (const profile of profiles) {
  for (const gpus of dividingGpuCounts(profile, FRONTIER_GPU_COUNTS)) {
    const frontier = await evaluateFrontier(planner, profile, gpus);
    frontiers.push(frontier);
    const points = frontier.points.map(
      (p) => `${fixed(p.kvCacheFactor, 3)}:${p.speedupVsContiguous === null ? 'n/a' : times(p.speedupVsContiguous)}`,
    );
    console.log(`${profile.id.padEnd(40)} G=${gpus} frontier ${points.join(' ')}  [${elapsed()}]`);
  }
}

const flagship = profiles.find((p) => p.id === FLAGSHIP.model)!;
const splitCurve = await evaluateSplitCurve(planner, flagship, SPLIT_CURVE_GPU_COUNTS, SPLIT_SOLVER);
for (const point of splitCurve) {
  console.log(
    `${FLAGSHIP.model} G=${point.gpus} maxSplitHeads ${point.maxSplitHeads}: /(e) ${times(point.overFluid)}  proven ${point.layersProvenOptimal}`,
  );
}
const doc = buildDocument(runs, {
  costModel,
  timeCostModel,
  defaultMaxKvCacheFactor: DEFAULT_MAX_KV_CACHE_FACTOR,
  splitCurve,
  frontiers,
});
// Solve times differ on every run, so they stay out of the committed docs.
const timingsFile = resolve(args.timings);
mkdirSync(dirname(timingsFile), { recursive: true });
writeFileSync(
  timingsFile,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      costModel: costModel.name,
      wallSeconds: (performance.now() - started) / 1000,
      plans: planner.counts,
      timings: sortRuns(runs).map((r) => r.timings),
    },
    null,
    2,
  )}\n`,
);
writeOutputs(doc);
console.log(`wrote the solve times to ${args.timings}`);
await runner.close();
console.log(
  `${planner.counts.solved} plans solved, ${planner.counts.reused} reused; ${planner.counts.layersSolved} layer tasks solved, ${planner.counts.layersReused} reused; done in ${fixed((performance.now() - started) / 1000, 1)} s`,
);
