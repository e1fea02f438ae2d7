/**
 * Solver benchmark (`npm run bench:solver`): prints JSON (also written to bench/results/) and a
 * Markdown table. Side by side in one run:
 *  1. every profile in models/ at G in {2, 4, 8} (where the query heads divide), equal counts,
 *     the default cost model: contiguous, greedy and auto totals, ratios, layers proven, and the
 *     wall time of the auto plan in a fresh process on the worker pool (pool start-up apart);
 *  2. the textbook binary ILP vs this project's aggregated ILP vs auto, same GLPK, same per-layer
 *     time limit, on the first layers of each profile at the largest G;
 *  3. random all-distinct costs (32 and 64 units, 4 and 8 GPUs, fixed seeds): greedy and auto gaps
 *     with 500 ms per layer.
 *  4. the all-distinct suite (bench/solver-suite.ts): this tree against a baseline commit.
 * Flags: --quick (fewer profiles and layers, 2 layers per suite case), --textbook-layers N,
 * --layer-limit-ms N, --suite (only the suite), --kv (only the KV-aware solver: bench/solver-kv.ts),
 * --baseline REF (default: the release before the proof fixes; with --kv, main before the KV
 * work), --no-baseline.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command, Option } from 'commander';
import { positiveInt } from '../src/cli/options.ts';
import { createCostModelResolver } from '../src/cost/registry.ts';
import { distinctCosts } from '../src/kernel/synthetic.ts';
import { median } from '../src/kernel/timing.ts';
import { loadGlpk } from '../src/planner/glpk.ts';
import { createSolverPool } from '../src/pool/solver-pool.ts';
import { resolveRequest } from '../src/planner/request.ts';
import { solvePlan } from '../src/planner/solve-plan.ts';
import { FLAGSHIP_MODEL } from '../src/profiles/flagship.ts';
import { loadRegistry } from '../src/profiles/registry.ts';
import { greedyEngine } from '../src/solver/engines/greedy.ts';
import { createEngines } from '../src/solver/engines/index.ts';
import { createIlpEngine } from '../src/solver/engines/ilp.ts';
import { buildLayerProblems } from '../src/solver/problem.ts';
import type { LayerEngine, LayerProblem } from '../src/solver/types.ts';
import { formatSuite, runSuite } from './solver-suite.ts';
import { formatKvBench, formatSolverBench } from './solver-tables.ts';
import { runKvBench } from './solver-kv.ts';

/** The release before the rounding-robust proofs and the all-distinct work: the suite's baseline. */
const PREVIOUS_RELEASE = '0484f3c';
/** main before the KV-aware solver: the baseline of --kv. */
const KV_BASELINE = '0c32e7e';

const flags = new Command('bench:solver')
  .option('--quick', 'fewer profiles and layers')
  .option(
    '--textbook-layers <n>',
    'layers per profile in the formulation comparison (default 8, 4 with --quick)',
    positiveInt,
  )
  .option('--layer-limit-ms <ms>', 'per-layer time limit of the formulation comparison', positiveInt, 1000)
  .option('--suite', 'only the all-distinct suite')
  .option('--kv', 'only the KV-aware solver on the flagship (bench/solver-kv.ts; baseline: main before it)')
  .option(
    '--cpu-clock',
    "with --kv: time by this process's CPU time (a shared machine's wall clock counts foreign load)",
  )
  .option('--baseline <ref>', 'git ref the suite compares with (default: the release before the proof fixes)')
  .option('--no-baseline', 'no comparison')
  .addOption(
    new Option('--child <model>', 'one cold plan of <model> in this process (used by the benchmark itself)').hideHelp(),
  )
  .addOption(new Option('--gpus <n>', 'GPUs of the --child plan').argParser(positiveInt).hideHelp())
  .parse()
  .opts<{
    quick?: boolean;
    textbookLayers?: number;
    layerLimitMs: number;
    suite?: boolean;
    kv?: boolean;
    cpuClock?: boolean;
    baseline?: string | false;
    child?: string;
    gpus?: number;
  }>();
const QUICK = flags.quick === true;
const TEXTBOOK_LAYERS = flags.textbookLayers ?? (QUICK ? 4 : 8);
const LAYER_LIMIT_MS = flags.layerLimitMs;
const PLAN_LIMIT_MS = 30_000;
// commander: --baseline REF gives the ref, --no-baseline false, neither true (the default baseline).
const SUITE_OPTIONS = {
  baseline: flags.baseline === false ? null : typeof flags.baseline === 'string' ? flags.baseline : PREVIOUS_RELEASE,
  ...(QUICK ? { maxLayers: 2 } : {}),
  onProgress: (line: string) => process.stderr.write(`${line}\n`),
};
const registry = loadRegistry();
const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel: createCostModelResolver() };

if (flags.child !== undefined) {
  // One cold plan in a fresh process, the service's path: the worker pool (one worker per core,
  // each loading GLPK), auto engine. Pool start-up is reported apart from the plan.
  const t0 = performance.now();
  const pool = createSolverPool();
  await pool.ready();
  const startMs = performance.now() - t0;
  const resolved = resolveRequest(
    {
      model: flags.child,
      gpus: { count: flags.gpus ?? 8 },
      solver: { timeLimitMs: PLAN_LIMIT_MS, layerTimeLimitMs: 10_000 },
    },
    context,
  );
  const plan = await solvePlan(resolved, pool);
  await pool.close();
  process.stdout.write(
    JSON.stringify({ startMs, planMs: plan.totals.solveMs, totals: plan.totals, costModel: plan.costModel }),
  );
  process.exit(0);
}

if (flags.kv === true) {
  // The KV-aware solver's targets; its baseline is main before that work unless one is named.
  const baseline = flags.baseline === false ? null : typeof flags.baseline === 'string' ? flags.baseline : KV_BASELINE;
  const options = { quick: QUICK, cpuClock: flags.cpuClock === true, baseline, onProgress: SUITE_OPTIONS.onProgress };
  const kv = await runKvBench(options);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/solver-kv.json', import.meta.url), `${JSON.stringify(kv, null, 2)}\n`);
  console.log(JSON.stringify(kv));
  console.log(`\n${formatKvBench(kv)}`);
  process.exit(0);
}

if (flags.suite === true) {
  const suite = await runSuite(SUITE_OPTIONS);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/solver-suite.json', import.meta.url), `${JSON.stringify(suite, null, 2)}\n`);
  console.log(JSON.stringify(suite));
  console.log(
    `\n## All-distinct suite (log-normal costs, equal counts, plan 10 s, layer 2 s, gap 1e-4)\n\n${formatSuite(suite)}`,
  );
  process.exit(0);
}

async function coldPlan(model: string, gpus: number) {
  const start = performance.now();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', model, '--gpus', String(gpus)],
    { maxBuffer: 1 << 26 },
  );
  return { processMs: performance.now() - start, ...JSON.parse(stdout) };
}

const profiles = registry
  .list()
  .filter(
    (p) =>
      !QUICK ||
      [FLAGSHIP_MODEL, 'qwen2.5-14b-instruct-1m-minference', 'llama-3-70b-instruct-262k-minference'].includes(p.id),
  );
const glpk = await loadGlpk();
const engines = createEngines(glpk);
const textbook = createIlpEngine(glpk, 'textbook');

// 1. Whole-model plans, cold.
// auto <= greedy holds exactly per layer where it is solved; totals are re-summed per member
// layer in its own unit order, so they may differ from it in the last bits (compared at 1e-12).
const models = [];
for (const profile of profiles) {
  for (const gpus of [2, 4, 8]) {
    if (profile.architecture.queryHeads % gpus !== 0) continue;
    const cold = await coldPlan(profile.id, gpus);
    const t = cold.totals;
    models.push({
      model: profile.id,
      gpus,
      costModel: cold.costModel.name,
      unit: cold.costModel.unit,
      contiguous: t.contiguousMakespan,
      greedy: t.greedyMakespan,
      auto: t.makespan,
      autoOverGreedy: t.makespan / t.greedyMakespan,
      contiguousOverAuto: t.contiguousMakespan / t.makespan,
      layers: profile.architecture.layers,
      layersProven: t.layersProvenOptimal,
      coldPlanMs: cold.planMs,
      poolStartMs: cold.startMs,
      processMs: cold.processMs,
    });
    process.stderr.write(
      `plan ${profile.id} G=${gpus}: ${cold.planMs.toFixed(0)} ms, proven ${t.layersProvenOptimal}/${profile.architecture.layers}\n`,
    );
  }
}

// 2. Formulations side by side on the same layers, same GLPK, same per-layer limit.
function timeEngine(engine: LayerEngine, problems: LayerProblem[]) {
  let proven = 0;
  const times: number[] = [];
  let makespan = 0;
  for (const problem of problems) {
    const greedy = greedyEngine.solveLayer(problem, { timeLimitMs: LAYER_LIMIT_MS, gapTolerance: 1e-4 });
    const start = performance.now();
    // Only this project's engines take greedy's placement as an incumbent; the textbook runs bare.
    const result = engine.solveLayer(problem, {
      timeLimitMs: LAYER_LIMIT_MS,
      gapTolerance: 1e-4,
      ...(engine === textbook ? {} : { incumbent: greedy.unit2gpu }),
    });
    times.push(performance.now() - start);
    makespan += result.makespan;
    if (['optimal', 'within_tolerance', 'trivial'].includes(result.status)) proven++;
  }
  return { totalMs: times.reduce((a, b) => a + b, 0), medianMs: median(times), proven, makespan };
}
const formulations = [];
for (const profile of profiles) {
  const gpus = [8, 4, 2].find((g) => profile.architecture.queryHeads % g === 0)!;
  const resolved = resolveRequest({ model: profile.id, gpus: { count: gpus } }, context);
  const problems = resolved.layers.slice(0, TEXTBOOK_LAYERS);
  const tb = timeEngine(textbook, problems);
  const agg = timeEngine(engines.ilp, problems);
  const auto = timeEngine(engines.auto, problems);
  formulations.push({
    model: profile.id,
    gpus,
    layers: problems.length,
    layerLimitMs: LAYER_LIMIT_MS,
    textbook: tb,
    aggregatedIlp: agg,
    auto,
    textbookOverIlp: tb.totalMs / agg.totalMs,
    textbookOverAuto: tb.totalMs / auto.totalMs,
  });
  process.stderr.write(
    `formulations ${profile.id}: textbook ${tb.totalMs.toFixed(0)} ms (${tb.proven} proven), ilp ${agg.totalMs.toFixed(0)} ms (${agg.proven}), auto ${auto.totalMs.toFixed(0)} ms (${auto.proven})\n`,
  );
}

// 3. Random all-distinct costs.
const random = [];
for (const units of [32, 64]) {
  for (const gpus of [4, 8]) {
    const rows = [];
    for (const seed of [1, 2, 3]) {
      const problem = buildLayerProblems({
        headCosts: [distinctCosts(units, seed * 1000 + units + gpus)],
        kvGroupSize: 1,
        granularity: 'query-head',
        speeds: new Array<number>(gpus).fill(1),
        unitsPerGpu: { kind: 'equal' },
      })[0];
      const greedy = greedyEngine.solveLayer(problem, { timeLimitMs: 500, gapTolerance: 1e-4 });
      const start = performance.now();
      const auto = engines.auto.solveLayer(problem, {
        timeLimitMs: 500,
        gapTolerance: 1e-4,
        incumbent: greedy.unit2gpu,
      });
      rows.push({
        seed,
        greedyGap: greedy.gap,
        autoGap: auto.gap,
        autoMs: performance.now() - start,
        status: auto.status,
      });
    }
    random.push({
      units,
      gpus,
      layerLimitMs: 500,
      maxAutoGap: Math.max(...rows.map((r) => r.autoGap)),
      maxAutoMs: Math.max(...rows.map((r) => r.autoMs)),
      seeds: rows,
    });
  }
}

const suite = await runSuite(SUITE_OPTIONS);
const result = {
  machine: { node: process.version, cpus: (await import('node:os')).cpus().length },
  models,
  formulations,
  random,
  suite,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/solver.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
console.log(formatSolverBench(result, { textbookLayers: TEXTBOOK_LAYERS, layerLimitMs: LAYER_LIMIT_MS }));
