/**
 * npm run eval: evaluates every profile in models/ (uniform vs adaptive budgets, contiguous vs
 * greedy vs S-HPLB placement, against the fluid bound) and writes docs/evaluation.json,
 * docs/evaluation.md, the SVG plots and the README's "How much does it help?" section; the solve
 * times, which differ on every run, go to bench/results/eval-timings.json (not committed).
 *
 *   npm run eval [-- --cost-model <name>] [--out-dir docs] [--readme README.md] [--timings FILE]
 *
 * The cost model defaults to the project's default (executed work); the document records which
 * one, and the staleness test regenerates with that name. Every plan is solved at the service's
 * default KV-cache cap (EVAL_MAX_KV_CACHE_FACTOR), which the document records too.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { resolveCostModel } from '../src/cost/registry.ts';
import {
  buildDocument,
  EVAL_GPU_COUNTS,
  EVAL_MAX_KV_CACHE_FACTOR,
  EVAL_SOLVER,
  EVAL_WORKLOAD,
  FLAGSHIP,
  serializeDocument,
  SPLIT_CURVE_GPU_COUNTS,
  SPLIT_CURVE_SOLVER,
  sortRuns,
} from '../src/eval/document.ts';
import { evaluateProfiles, evaluateSplitCurve } from '../src/eval/evaluate.ts';
import { fixed, times } from '../src/eval/format.ts';
import { BUBBLE_SVG, renderReadmeSection, renderReport, SPEEDUP_SVG, updateReadme } from '../src/eval/report.ts';
import { flagshipBubbleChart, renderBubbleSvg, renderSpeedupSvg } from '../src/eval/svg.ts';
import { loadGlpk } from '../src/planner/glpk.ts';
import { createInlineRunner } from '../src/planner/layer-task.ts';
import { loadRegistry } from '../src/profiles/registry.ts';
import { createEngines } from '../src/solver/engines/index.ts';

const args = new Command('eval')
  .description('evaluate every profile in models/ and write the docs/ report, its plots and the README section')
  .option('--cost-model <name>', 'cost model (default: executed-work)')
  .option('--out-dir <dir>', 'where evaluation.json, evaluation.md and the plots go', 'docs')
  .option('--readme <file>', 'README whose eval section is rewritten', 'README.md')
  .option('--timings <file>', 'machine-dependent solve times (not committed)', 'bench/results/eval-timings.json')
  .parse()
  .opts<{ costModel?: string; outDir: string; readme: string; timings: string }>();

const started = performance.now();
const costModel = resolveCostModel(args.costModel);
const runner = createInlineRunner(createEngines(await loadGlpk()));
const profiles = loadRegistry().list();
console.log(
  `cost model: ${costModel.name} (unit: ${costModel.unit}); prefill of ${EVAL_WORKLOAD.seqLen} tokens` +
    `; ${profiles.length} profiles, G in ${EVAL_GPU_COUNTS.join(', ')}`,
);

const runs = await evaluateProfiles(
  profiles,
  EVAL_GPU_COUNTS,
  { costModel, workload: EVAL_WORKLOAD, maxKvCacheFactor: EVAL_MAX_KV_CACHE_FACTOR, solver: EVAL_SOLVER, runner },
  ({ evaluation: e, timings }) => {
    console.log(
      `${e.model.id.padEnd(40)} G=${e.gpus}  (a)/(d) ${times(e.speedup.uniformOverAuto)}  (b)/(d) ${times(e.speedup.contiguousOverAuto)}  ` +
        `(c)/(d) ${times(e.speedup.greedyOverAuto)}  (d)/(e) ${times(e.speedup.autoOverFluid)}  proven ${e.layersProvenOptimal}/${e.model.layers}  ` +
        `(f)/(e) ${times(e.split.overFluid)}  proven ${e.split.layersProvenOptimal}/${e.model.layers}  ` +
        `auto ${fixed(timings.solveMs.adaptiveAuto, 0)} ms, split ${fixed(timings.solveMs.split, 0)} ms`,
    );
  },
);

const flagship = profiles.find((p) => p.id === FLAGSHIP.model)!;
const splitCurve = await evaluateSplitCurve(flagship, SPLIT_CURVE_GPU_COUNTS, {
  costModel,
  workload: EVAL_WORKLOAD,
  maxKvCacheFactor: EVAL_MAX_KV_CACHE_FACTOR,
  solver: SPLIT_CURVE_SOLVER,
  runner,
});
for (const point of splitCurve) {
  console.log(
    `${FLAGSHIP.model} G=${point.gpus} maxSplitHeads ${point.maxSplitHeads}: /(e) ${times(point.overFluid)}  proven ${point.layersProvenOptimal}`,
  );
}
const doc = buildDocument(runs, costModel, splitCurve);
// Solve times differ on every run, so they stay out of the committed docs.
const timingsFile = resolve(args.timings);
mkdirSync(dirname(timingsFile), { recursive: true });
const timings = sortRuns(runs).map((r) => r.timings);
writeFileSync(
  timingsFile,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, costModel: costModel.name, timings }, null, 2)}\n`,
);
const outDir = resolve(args.outDir);
mkdirSync(outDir, { recursive: true });
const outputs: [string, string][] = [
  ['evaluation.json', serializeDocument(doc)],
  ['evaluation.md', renderReport(doc)],
  [BUBBLE_SVG, renderBubbleSvg(flagshipBubbleChart(doc))],
  [SPEEDUP_SVG, renderSpeedupSvg(doc)],
];
for (const [name, content] of outputs) writeFileSync(join(outDir, name), content);
const readme = resolve(args.readme);
writeFileSync(readme, updateReadme(existsSync(readme) ? readFileSync(readme, 'utf8') : '', renderReadmeSection(doc)));
console.log(
  `wrote ${outputs.map(([name]) => join(args.outDir, name)).join(', ')}, the eval section of ${args.readme} and the solve times to ${args.timings}`,
);
console.log(`done in ${fixed((performance.now() - started) / 1000, 1)} s`);
