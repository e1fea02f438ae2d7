/**
 * Re-planning benchmark (`npm run bench:replan`): prints JSON (also written to bench/results/)
 * and a Markdown table. Every profile in models/ at 8 GPUs, query-head units (equal counts where
 * the heads divide, else at most ceil(heads / 8) per GPU), the default cost model, three drifts
 * of the running plan's problem:
 *  - workload: prefill 131072 -> 32768 tokens; prefill -> decode at 32768 tokens;
 *  - budgets: every head's cost times a seeded log-normal factor (sigma 0.1);
 *  - speed: GPU 0 slows to 0.5.
 * The running plan is the fresh plan of the old problem. For each drift: moves and bytes of
 * (i) the fresh plan of the new problem relabelled at best (assignment per class of identical
 * GPUs), (ii) the re-plan at eps = 0, 0.5%, 1%, 2%; the largest layer makespan over C*; stage-2
 * time; the share of layers with both objectives proven (makespan by stage 1, moves by GLPK).
 * Flags: --quick (three profiles), --models a,b, --layer-limit-ms N (per layer and stage).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { positiveInt } from '../src/cli/options.ts';
import { textTable } from '../src/cli/format.ts';
import { createCostModelResolver } from '../src/cost/registry.ts';
import { createRandom } from '../src/random.ts';
import { loadGlpk } from '../src/planner/glpk.ts';
import { createInlineRunner } from '../src/planner/layer-task.ts';
import { unitBytes } from '../src/planner/migration.ts';
import type { Plan } from '../src/planner/plan.ts';
import { resolveRequest, type PlanRequest } from '../src/planner/request.ts';
import { solvePlan } from '../src/planner/solve-plan.ts';
import { FLAGSHIP_MODEL } from '../src/profiles/flagship.ts';
import { loadRegistry } from '../src/profiles/registry.ts';
import { makespanOf } from '../src/solver/layer-result.ts';
import { sum } from '../src/solver/problem.ts';
import { bestRelabelling } from '../src/solver/replan/greedy-replan.ts';
import { movedUnitCount, totalMoveCost } from '../src/solver/replan/moves.ts';
import { replanLayer } from '../src/solver/replan/replan-layer.ts';

const flags = new Command('bench:replan')
  .option('--quick', 'three profiles')
  .option('--layer-limit-ms <ms>', 'time limit per layer', positiveInt, 500)
  .option('--models <ids>', 'comma-separated profile ids (default: every profile, three with --quick)')
  .parse()
  .opts<{ quick?: boolean; layerLimitMs: number; models?: string }>();
const QUICK = flags.quick === true;
const LAYER_LIMIT_MS = flags.layerLimitMs;
const GPUS = 8;
const EPSILONS = [0, 0.005, 0.01, 0.02];
const SIGMA = 0.1;
const SEED = 20261129;

const registry = loadRegistry();
const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel: createCostModelResolver() };
const glpk = await loadGlpk();
const runner = createInlineRunner(glpk);
const wanted =
  flags.models?.split(',') ??
  (QUICK ? [FLAGSHIP_MODEL, 'qwen2.5-14b-instruct-1m-minference', 'mistral-7b-instruct-v0.2-duo'] : null);
const profiles = registry.list().filter((p) => !wanted || wanted.includes(p.id));

const solver = { timeLimitMs: 600_000, layerTimeLimitMs: LAYER_LIMIT_MS };
const plan = (request: PlanRequest) => solvePlan(resolveRequest(request, context), runner);

/** Each cost times exp(sigma * N(0, 1)), N by Box-Muller on a seeded generator. */
function logNormalDrift(costs: readonly (readonly number[])[], seed: number): number[][] {
  const next = createRandom(seed);
  return costs.map((row) =>
    row.map((c) => c * Math.exp(SIGMA * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()))),
  );
}

const rows = [];
for (const profile of profiles) {
  const heads = profile.architecture.queryHeads;
  const unitsPerGpu = heads % GPUS === 0 ? 'equal' : `max:${Math.ceil(heads / GPUS)}`;
  const base: PlanRequest = {
    model: profile.id,
    gpus: { count: GPUS },
    constraints: { unitsPerGpu },
    workload: { seqLen: 131072, phase: 'prefill' },
    solver,
  };
  const at32k: PlanRequest = { ...base, workload: { seqLen: 32768, phase: 'prefill' } };
  const headCosts = resolveRequest(base, context).layers.map((l) => l.costs);
  const kvGroupSize = heads / profile.architecture.kvHeads;
  const drifts: { name: string; old: PlanRequest; next: PlanRequest }[] = [
    { name: 'prefill 131072->32768', old: base, next: at32k },
    { name: 'prefill->decode @32768', old: at32k, next: { ...at32k, workload: { seqLen: 32768, phase: 'decode' } } },
    {
      name: 'budgets x lognormal(0.1)',
      old: { ...base, model: undefined, costs: headCosts, kvGroupSize },
      next: { ...base, model: undefined, costs: logNormalDrift(headCosts, SEED), kvGroupSize },
    },
    {
      name: 'GPU 0 at speed 0.5',
      old: base,
      next: { ...base, gpus: { count: GPUS, speeds: [0.5, ...new Array<number>(GPUS - 1).fill(1)] } },
    },
  ];
  for (const drift of drifts) {
    const running: Plan = await plan(drift.old);
    const resolved = resolveRequest(drift.next, context);
    const fresh = await solvePlan(resolved, runner);
    const bytes = unitBytes(profile.architecture, resolved);
    const specOf = (l: number, eps: number) => ({
      previous: running.layers[l].unit2gpu,
      moveCosts: new Array<number>(heads).fill(bytes),
      makespanTolerance: eps,
    });
    const relabelled = resolved.layers.map((problem, l) =>
      bestRelabelling(problem, specOf(l, 0), fresh.layers[l].unit2gpu),
    );
    const relabelledMoves = sum(relabelled.map((u, l) => movedUnitCount(specOf(l, 0), u)));
    const row: Record<string, unknown> = {
      model: profile.id,
      drift: drift.name,
      layers: resolved.layers.length,
      units: heads,
      stage1Ms: fresh.totals.solveMs,
      layersMakespanProven: fresh.totals.layersProvenOptimal,
      relabelledMoves,
      relabelledBytes: sum(relabelled.map((u, l) => totalMoveCost(specOf(l, 0), u))),
    };
    for (const eps of EPSILONS) {
      let moves = 0;
      let moveBytes = 0;
      let worst = 0;
      let bothProven = 0;
      const start = performance.now();
      resolved.layers.forEach((problem, l) => {
        const f = fresh.layers[l];
        const r = replanLayer(
          problem,
          specOf(l, eps),
          { unit2gpu: f.unit2gpu, makespan: f.makespan },
          { glpk, timeLimitMs: LAYER_LIMIT_MS },
        );
        moves += r.movedUnits;
        moveBytes += r.moveCost;
        worst = Math.max(worst, f.makespan > 0 ? makespanOf(problem, r.unit2gpu) / f.makespan : 1);
        const makespanProven = f.status === 'optimal' || f.status === 'within_tolerance' || f.status === 'trivial';
        if (makespanProven && r.moveStatus === 'optimal') bothProven += 1;
      });
      row[`eps${eps}`] = {
        moves,
        bytes: moveBytes,
        movesVsRelabelled: relabelledMoves > 0 ? moves / relabelledMoves : 0,
        worstMakespanVsOptimal: worst,
        stage2Ms: performance.now() - start,
        bothProvenShare: bothProven / resolved.layers.length,
      };
    }
    rows.push(row);
    process.stderr.write(`${profile.id} / ${drift.name}: done\n`);
  }
}

type EpsResult = {
  moves: number;
  bytes: number;
  movesVsRelabelled: number;
  worstMakespanVsOptimal: number;
  stage2Ms: number;
  bothProvenShare: number;
};
const eps = (row: Record<string, unknown>, e: number) => row[`eps${e}`] as EpsResult;
const withMoves = rows.filter((r) => (r.relabelledMoves as number) > 0);
const summary = {
  meanMovesVsRelabelledAt1pct: withMoves.length
    ? sum(withMoves.map((r) => eps(r, 0.01).movesVsRelabelled)) / withMoves.length
    : 0,
  worstMakespanVsOptimalAt1pct: Math.max(...rows.map((r) => eps(r, 0.01).worstMakespanVsOptimal)),
  eps0NeverMoreThanRelabelled: rows.every((r) => eps(r, 0).moves <= (r.relabelledMoves as number)),
};
const result = {
  machine: 'shared 2-core machine, loaded: times are indicative',
  gpus: GPUS,
  layerLimitMs: LAYER_LIMIT_MS,
  epsilons: EPSILONS,
  sigma: SIGMA,
  seed: SEED,
  rows,
  summary,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/replan.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(summary)}\n\n`);

const gib = (b: number) => (b / 2 ** 30).toFixed(2);
const header = [
  'model',
  'drift',
  '(i) moves',
  '(i) GiB',
  ...EPSILONS.flatMap((e) => [`eps ${e * 100}% moves`, `GiB`]),
  'eps 1% / (i)',
  'worst ms/C* @1%',
  'stage 2 s @1%',
  'both proven @1%',
];
process.stdout.write(
  `${textTable(
    header,
    rows.map((r) => [
      String(r.model),
      String(r.drift),
      String(r.relabelledMoves),
      gib(r.relabelledBytes as number),
      ...EPSILONS.flatMap((e) => [String(eps(r, e).moves), gib(eps(r, e).bytes)]),
      eps(r, 0.01).movesVsRelabelled.toFixed(3),
      eps(r, 0.01).worstMakespanVsOptimal.toFixed(4),
      (eps(r, 0.01).stage2Ms / 1000).toFixed(1),
      `${(100 * eps(r, 0.01).bothProvenShare).toFixed(0)}%`,
    ]),
  )}\n`,
);
