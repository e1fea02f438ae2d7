/**
 * Split-heads benchmark (`npm run bench:split`): cold whole-model plans of the flagship at G = 8
 * in a fresh process on the worker pool (the service's path), without and with split heads
 * (maxSplitHeads = G - 1, service defaults otherwise), side by side, a few runs each; prints JSON
 * (also written to bench/results/split.json) and a table with the median plan time, the layers
 * proven and the plan's makespan over the fluid bound. Target: with splits, within 2 s and every
 * layer proven.
 *
 *   npm run bench:split [-- --runs 3 --model <id> --gpus 8]
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { textTable } from '../src/cli/format.ts';
import { resolveCostModel } from '../src/cost/registry.ts';
import { median } from '../src/kernel/timing.ts';
import { resolveRequest } from '../src/planner/request.ts';
import { solvePlan } from '../src/planner/solve-plan.ts';
import { createSolverPool } from '../src/pool/solver-pool.ts';
import { loadRegistry } from '../src/profiles/registry.ts';

const { values: args } = parseArgs({
  options: {
    child: { type: 'string' },
    runs: { type: 'string', default: '3' },
    model: { type: 'string', default: 'llama-3-8b-instruct-262k-minference' },
    gpus: { type: 'string', default: '8' },
  },
});
const gpus = Number(args.gpus);

if (args.child !== undefined) {
  const registry = loadRegistry();
  const pool = createSolverPool();
  await pool.ready();
  const splitHeads = Number(args.child);
  const constraints = splitHeads > 0 ? { splits: { maxSplitHeads: splitHeads } } : {};
  const resolved = resolveRequest(
    { model: args.model, gpus: { count: gpus }, constraints },
    { resolveProfile: (id) => registry.resolve(id), resolveCostModel },
  );
  const plan = await solvePlan(resolved, pool);
  await pool.close();
  const fluid =
    plan.totals.fluidBound ??
    plan.layers.reduce((s, l) => s + l.gpuLoads.reduce((a, b) => a + b, 0) / l.gpuLoads.length, 0);
  process.stdout.write(
    JSON.stringify({
      planMs: plan.totals.solveMs,
      proven: plan.totals.layersProvenOptimal,
      layers: plan.layers.length,
      overFluid: plan.totals.makespan / fluid,
      splitHeads: plan.totals.splitHeads ?? 0,
    }),
  );
  process.exit(0);
}

const rows = [];
for (const splitHeads of [0, gpus - 1]) {
  const runs = [];
  for (let i = 0; i < Number(args.runs); i++) {
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      String(splitHeads),
      '--model',
      args.model,
      '--gpus',
      String(gpus),
    ]);
    runs.push(
      JSON.parse(stdout) as { planMs: number; proven: number; layers: number; overFluid: number; splitHeads: number },
    );
  }
  rows.push({ splitHeads, medianPlanMs: median(runs.map((r) => r.planMs)), runs });
}
const result = {
  date: new Date().toISOString(),
  node: process.version,
  loadAverage: loadavg(),
  model: args.model,
  gpus,
  rows,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/split.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
console.log(
  `\n## Cold plans of ${args.model} at G=${gpus} (worker pool, service defaults; load average ${loadavg()[0].toFixed(1)})\n`,
);
console.log(
  textTable(
    ['max split heads', 'median plan ms', 'runs ms', 'proven', 'plan / fluid', 'heads split'],
    rows.map((r) => [
      String(r.splitHeads),
      r.medianPlanMs.toFixed(0),
      r.runs.map((x) => x.planMs.toFixed(0)).join(', '),
      `${Math.min(...r.runs.map((x) => x.proven))}/${r.runs[0].layers}`,
      r.runs[0].overFluid.toFixed(4),
      String(r.runs[0].splitHeads),
    ]),
  ),
);
