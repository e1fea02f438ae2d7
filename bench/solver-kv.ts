/**
 * The KV-aware solver on the flagship (`npm run bench:solver -- --kv [--quick] [--baseline REF |
 * --no-baseline]`): prints a table and JSON, and writes bench/results/solver-kv.json.
 *  1. Targets: llama-3-8b-instruct-262k-minference, prefill 131072, the default cost model (executed
 *     work, MACs); each stored KV group costs its K/V projection, kvProjectionMacs(131072, 32 x 128).
 *     At G = 8 and 4: the KV-cache cap at 1.0 (the default), 1.25, 1.5 and 2.0, and with no cap
 *     maxKvGroupsPerGpu 2, 3, 4; decode-like copies (decode head costs at 131072, each copy a read
 *     of its K/V at an H100's ratio of peak bf16 MACs to HBM bytes) at G = 8. Each plan runs
 *     through solvePlan on the calling thread (one worker's view), 1 s per layer at most.
 *  2. Sanity: no group costs, the same caps: speedup over the contiguous placement (the issue's
 *     independent MILP: G = 8 1.000 / 1.043 / 1.139 / 1.304x, G = 4 1.149x at 1.0 and 1.219x at 1.5).
 *  3. Side by side with a baseline commit (default 0c32e7e, main before this work), which knows
 *     only maxKvGroupsPerGpu: 2, 3, 4 at G = 8 without group costs, per-layer times and proofs.
 * --cpu-clock times plans and layers by this process's CPU time (a shared machine's wall clock
 * counts foreign load); the side by side with the baseline always runs on the wall clock.
 * The problems are built here with buildLayerProblems (group costs and the cap are solver inputs
 * before any request field carries them).
 */
import { createCostModelResolver } from '../src/cost/registry.ts';
import { headShapeOf, kvBytes, kvProjectionMacs } from '../src/cost/head-shape.ts';
import { loadGlpk } from '../src/planner/glpk.ts';
import { createInlineRunner, type LayerRunner } from '../src/planner/layer-task.ts';
import type { Plan } from '../src/planner/plan.ts';
import { resolveRequest, type ResolvedRequest } from '../src/planner/request.ts';
import { solvePlan } from '../src/planner/solve-plan.ts';
import { FLAGSHIP_MODEL } from '../src/profiles/flagship.ts';
import { loadRegistry } from '../src/profiles/registry.ts';
import { buildLayerProblems, type ProblemSpec } from '../src/solver/problem.ts';
import { createEngines } from '../src/solver/engines/index.ts';
import type { LayerProblem, LayerResult } from '../src/solver/types.ts';
import { baselinePlanner } from './solver-suite.ts';

const SEQ_LEN = 131072;
/** H100 SXM: 989 TFLOP/s dense bf16 (2 FLOP per MAC) over 3.35 TB/s HBM3: MACs one byte read is worth. */
const MACS_PER_BYTE = 989e12 / 2 / 3.35e12;
const PROVEN = new Set(['optimal', 'within_tolerance', 'trivial']);

export interface KvBenchOptions {
  readonly quick: boolean;
  /**
   * Time plans and layers by this process's CPU time instead of the wall clock (the machine is
   * shared: under foreign load the wall clock counts other processes' time too).
   */
  readonly cpuClock: boolean;
  /** Git ref of the baseline; null for none. */
  readonly baseline: string | null;
  readonly onProgress?: (line: string) => void;
}

/** One plan's case: GPUs, copies, cap or per-GPU group limit. */
interface KvCase {
  readonly gpus: number;
  readonly copies: 'prefill' | 'decode' | 'none';
  readonly factor?: number;
  readonly groupsPerGpu?: number;
}

function caseName(c: KvCase): string {
  const limit = c.factor !== undefined ? `cap ${c.factor}` : `groups ${c.groupsPerGpu ?? 'free'}`;
  return `G=${c.gpus} ${c.copies} ${limit}`;
}

/** The flagship's resolved request with its layers rebuilt for a case. */
function resolvedFor(c: KvCase): ResolvedRequest {
  const registry = loadRegistry();
  const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel: createCostModelResolver() };
  const phase = c.copies === 'decode' ? 'decode' : 'prefill';
  const resolved = resolveRequest(
    {
      model: FLAGSHIP_MODEL,
      gpus: { count: c.gpus },
      workload: { seqLen: SEQ_LEN, phase },
      solver: { timeLimitMs: 60_000, layerTimeLimitMs: 1000, gapTolerance: 1e-4 },
    },
    context,
  );
  const { architecture } = registry.resolve(FLAGSHIP_MODEL);
  const shape = headShapeOf(architecture);
  const copy =
    c.copies === 'prefill'
      ? kvProjectionMacs(SEQ_LEN, architecture.queryHeads * architecture.headDim, shape)
      : c.copies === 'decode'
        ? kvBytes(SEQ_LEN, shape) * MACS_PER_BYTE
        : 0;
  const headCosts = resolved.layers.map((l) => [...l.costs]);
  const spec: ProblemSpec = {
    headCosts,
    kvGroupSize: architecture.queryHeads / architecture.kvHeads,
    granularity: 'query-head',
    speeds: resolved.speeds,
    unitsPerGpu: { kind: 'equal' },
    groupCosts: headCosts.map(() => new Array<number>(architecture.kvHeads).fill(copy)),
    ...(c.factor !== undefined ? { maxKvCacheFactor: c.factor } : {}),
    ...(c.groupsPerGpu !== undefined ? { maxKvGroupsPerGpu: c.groupsPerGpu } : {}),
  };
  return { ...resolved, layers: buildLayerProblems(spec) };
}

/** What a plan shows: proofs (within 1 s), gaps, times, speedup, KV heads. */
/** Layers solved once for all their identical members (solvePlan) share this key. */
function layerKey(problem: LayerProblem): string {
  return JSON.stringify([problem.costs, problem.unit2group ?? null]);
}

/**
 * Wraps a runner to keep each layer's last answer as the solver gave it: the plan rebuilds its
 * layers (solvePlan's mapBack) without the second objective's proofs, so they are counted here.
 */
function recording(runner: LayerRunner): { runner: LayerRunner; answers: Map<string, LayerResult> } {
  const answers = new Map<string, LayerResult>();
  return {
    answers,
    runner: {
      concurrency: runner.concurrency,
      run: async (task, runOptions) => {
        const outcome = await runner.run(task, runOptions);
        answers.set(layerKey(task.problem), outcome.result);
        return outcome;
      },
    },
  };
}

/** Layers whose kept placement is the one a run proved to store the fewest KV heads. */
function kvProvenOf(resolved: ResolvedRequest, plan: Plan, answers: ReadonlyMap<string, LayerResult>): number {
  return plan.layers.filter((l) => {
    const answer = answers.get(layerKey(resolved.layers[l.layer]));
    return answer?.kvStatus === 'optimal' && answer.unit2gpu.every((g, u) => g === l.unit2gpu[u]);
  }).length;
}

function summarise(c: KvCase, resolved: ResolvedRequest, plan: Plan, kvProven: number) {
  const layers = plan.layers;
  const open = layers.filter((l) => !PROVEN.has(l.status));
  const stored = layers.reduce((s, l) => s + (l.kvHeadsStored ?? 0), 0);
  const contiguous = resolved.layers.reduce((s, l) => s + (l.contiguousKvHeads ?? 0), 0);
  const times = layers.map((l) => l.solveMs).sort((a, b) => a - b);
  return {
    case: caseName(c),
    ...c,
    layers: layers.length,
    proven: layers.length - open.length,
    provenWithin1s: layers.filter((l) => PROVEN.has(l.status) && l.solveMs <= 1000).length,
    worstOpenGap: Math.max(0, ...open.map((l) => l.gap)),
    planMs: plan.totals.solveMs,
    medianLayerMs: times[Math.floor(times.length / 2)],
    maxLayerMs: times[times.length - 1],
    speedup: plan.totals.speedupVsContiguous,
    kvCacheFactor: contiguous > 0 ? stored / contiguous : null,
    kvProven,
  };
}

/** This process's CPU time, ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * The inline runner (solveLayerTask: greedy, then auto), or with the CPU clock one that runs the
 * same steps with that clock injected into every engine.
 */
async function runnerFor(options: KvBenchOptions): Promise<LayerRunner> {
  const glpk = await loadGlpk();
  const engines = createEngines(glpk);
  if (!options.cpuClock) return createInlineRunner(glpk, engines);
  return {
    concurrency: 1,
    run: async (task) => {
      const settings = { timeLimitMs: task.timeLimitMs, gapTolerance: task.gapTolerance, now: cpuMs };
      const start = cpuMs();
      const greedy = engines.greedy.solveLayer(task.problem, settings);
      const rest = { ...settings, timeLimitMs: Math.max(1, task.timeLimitMs - (cpuMs() - start)) };
      const incumbent = task.incumbent ?? greedy.unit2gpu;
      const result = engines[task.engine].solveLayer(task.problem, {
        ...rest,
        incumbent,
        ...(task.lowerBound !== undefined ? { lowerBound: task.lowerBound } : {}),
      });
      return { result: { ...result, solveMs: cpuMs() - start }, greedyMakespan: greedy.makespan };
    },
  };
}

async function planCases(cases: readonly KvCase[], options: KvBenchOptions) {
  const { runner, answers } = recording(await runnerFor(options));
  const clock = options.cpuClock ? { now: cpuMs } : {};
  const rows = [];
  for (const c of cases) {
    const resolved = resolvedFor(c);
    answers.clear();
    const plan = await solvePlan(resolved, runner, clock);
    const row = summarise(c, resolved, plan, kvProvenOf(resolved, plan, answers));
    rows.push(row);
    options.onProgress?.(
      `kv ${row.case}: ${row.proven}/${row.layers} proven (${row.provenWithin1s} within 1 s), plan ${row.planMs.toFixed(0)} ms, max layer ${row.maxLayerMs.toFixed(0)} ms`,
    );
  }
  return rows;
}

/** Per-layer solve times and proofs of a plan. */
export function perLayer(plan: Plan) {
  const layerMs = plan.layers.map((l) => Math.round(l.solveMs));
  const sorted = [...layerMs].sort((a, b) => a - b);
  return {
    proven: plan.layers.filter((l) => PROVEN.has(l.status)).length,
    planMs: plan.totals.solveMs,
    medianLayerMs: sorted[Math.floor(sorted.length / 2)],
    maxLayerMs: sorted[sorted.length - 1],
    layerMs,
    makespan: plan.totals.makespan,
  };
}

/**
 * A baseline and this tree on the same layers (KV-group limits without group costs: all the
 * baseline knows; this tree solves them as before, by design), and this tree with the copies'
 * costs the service now prices.
 */
async function sideBySide(options: KvBenchOptions) {
  if (!options.baseline) return [];
  const baseline = await baselinePlanner(options.baseline);
  // Side by side in one process on the wall clock: the baseline's engines take no other clock.
  const runner = createInlineRunner(await loadGlpk());
  const rows = [];
  for (const groupsPerGpu of options.quick ? [2] : [2, 3, 4]) {
    const plain = resolvedFor({ gpus: 8, copies: 'none', groupsPerGpu });
    const theirs = perLayer(await baseline.plan(plain));
    const same = perLayer(await solvePlan(plain, runner));
    const priced = perLayer(await solvePlan(resolvedFor({ gpus: 8, copies: 'prefill', groupsPerGpu }), runner));
    rows.push({ groupsPerGpu, baseline: { ref: baseline.name, ...theirs }, thisTree: same, thisTreePriced: priced });
    options.onProgress?.(
      `baseline groups ${groupsPerGpu}: ${baseline.name} ${theirs.proven}/32, this tree ${same.proven}/32, with copies priced ${priced.proven}/32`,
    );
  }
  return rows;
}

export async function runKvBench(options: KvBenchOptions) {
  const targets: KvCase[] = [];
  for (const gpus of options.quick ? [8] : [8, 4]) {
    for (const factor of [1, 1.25, 1.5, 2]) targets.push({ gpus, copies: 'prefill', factor });
    for (const groupsPerGpu of [2, 3, 4]) targets.push({ gpus, copies: 'prefill', groupsPerGpu });
  }
  for (const factor of [1, 1.5, 2]) targets.push({ gpus: 8, copies: 'decode', factor });
  const sanity: KvCase[] = [];
  for (const gpus of [8, 4]) for (const factor of [1, 1.25, 1.5, 2]) sanity.push({ gpus, copies: 'none', factor });
  return {
    seqLen: SEQ_LEN,
    clock: options.cpuClock ? 'CPU' : 'wall',
    targets: await planCases(targets, options),
    sanity: await planCases(options.quick ? sanity.slice(0, 4) : sanity, options),
    baseline: await sideBySide(options),
  };
}
