import { HplbError } from '../errors.ts';
import { contiguousAssignment } from '../solver/engines/contiguous.ts';
import { buildLayerResult, makespanOf, relativeGap, statusForGap } from '../solver/layer-result.ts';
import type { LayerProblem, LayerResult } from '../solver/types.ts';
import { groupIdenticalLayers, mapBack, type LayerGroup } from './layer-groups.ts';
import { greedyFallback, type LayerOutcome, type LayerRunner, type LayerTask } from './layer-task.ts';
import { ENGINE_VERSION, type Plan, type PlanLayer } from './plan.ts';
import { withKvFields } from './plan-kv.ts';
import { PROVEN, planTotals } from './plan-totals.ts';
import { evenKvLabels, relabelLayer } from './relabel.ts';
import type { ResolvedRequest } from './request.ts';
import { isSplitResult, splitPlanFields } from './split-plan.ts';

/** Least time a layer is given even when the plan's budget is nearly spent, ms. */
const MIN_LAYER_SLICE_MS = 5;
/** Share of the plan's time the first pass over every layer may use. */
const FIRST_PASS_SHARE = 0.5;

export interface SolvePlanOptions {
  /** Monotonic clock in ms (performance.now by default). */
  readonly now?: () => number;
  /** When the plan's time started, on `now`'s clock (the request's arrival); now() by default. */
  readonly startedAt?: number;
  /** Ends the plan early, as its own deadline does (tests; a caller's own deadline). */
  readonly signal?: AbortSignal;
}

/**
 * Solves every layer of a resolved request through a runner and assembles the Plan.
 * Identical layers are solved once: layers whose costs are the same multiset (and that carry no
 * pins or KV groups, which tie units to their ids) share one canonical task, sorted by cost.
 * Time goes where it is needed, in two passes: first every task gets an even slice of half the
 * plan's time (easy layers return at once and leave theirs to the others); then the layers not
 * yet proven, widest gap first, share what is left evenly, each starting from its first answer and
 * bound, and keeping the better of its two answers. A layer never gets more than the per-layer
 * limit over both passes.
 * The time limit holds whatever the runner does: at startedAt + timeLimitMs (+ the runner's
 * planGraceMs) every layer not yet answered is answered at once through RunOptions.signal, with
 * what its solver reported so far or greedy, and the plan is assembled from those answers.
 */
export async function solvePlan(
  resolved: ResolvedRequest,
  runner: LayerRunner,
  options: SolvePlanOptions = {},
): Promise<Plan> {
  return underDeadline(resolved.solver.timeLimitMs, runner, options, (budget) => solveWithin(resolved, runner, budget));
}

/** A plan's time: its clock, when it started and its deadline on that clock, and the signal that cuts it. */
export interface PlanBudget {
  readonly now: () => number;
  readonly start: number;
  readonly deadline: number;
  readonly signal: AbortSignal;
}

/**
 * Runs `solve` under a plan's deadline: the budget's signal aborts at startedAt + timeLimitMs
 * (+ the runner's planGraceMs), at once when that is already due, or when options.signal does.
 */
export async function underDeadline<T>(
  timeLimitMs: number,
  runner: LayerRunner,
  options: SolvePlanOptions,
  solve: (budget: PlanBudget) => Promise<T>,
): Promise<T> {
  const now = options.now ?? performance.now.bind(performance);
  const start = options.startedAt ?? now();
  const deadline = start + timeLimitMs;
  const cut = new AbortController();
  const wait = deadline + (runner.planGraceMs?.(timeLimitMs) ?? 0) - now();
  // Already due (it waited for admission that long): nothing is sent to a worker.
  if (wait <= 0) cut.abort();
  const timer = wait > 0 ? setTimeout(() => cut.abort(), wait) : undefined;
  const signal = options.signal ? AbortSignal.any([cut.signal, options.signal]) : cut.signal;
  try {
    return await solve({ now, start, deadline, signal });
  } finally {
    clearTimeout(timer);
  }
}

async function solveWithin(resolved: ResolvedRequest, runner: LayerRunner, budget: PlanBudget): Promise<Plan> {
  // Contiguous placement depends on unit order, so its layers are never reordered.
  const groups = groupIdenticalLayers(resolved.layers, resolved.solver.engine !== 'contiguous');
  const outcomes = await firstPass(resolved, runner, budget, groups);
  await secondPass(resolved, runner, budget, groups, outcomes);
  return assemblePlan(resolved, layersOf(resolved, groups, outcomes), budget.now() - budget.start);
}

/** Every canonical layer once, each with an even share of FIRST_PASS_SHARE of the plan's time. */
async function firstPass(
  resolved: ResolvedRequest,
  runner: LayerRunner,
  { now, start, signal }: PlanBudget,
  groups: readonly LayerGroup[],
): Promise<LayerOutcome[]> {
  const { layerTimeLimitMs, gapTolerance, engine } = resolved.solver;
  const outcomes = new Array<LayerOutcome>(groups.length);
  const firstDeadline = start + FIRST_PASS_SHARE * resolved.solver.timeLimitMs;
  await runEach(
    groups.map((_, i) => i),
    runner.concurrency,
    async (index, rounds) => {
      const share = (firstDeadline - now()) / rounds;
      const timeLimitMs = Math.max(MIN_LAYER_SLICE_MS, Math.min(layerTimeLimitMs, share));
      const task = { problem: groups[index].canonical, engine, timeLimitMs, gapTolerance };
      outcomes[index] = await runSafely(runner, task, signal);
    },
  );
  return outcomes;
}

/**
 * The layers not proven after the first pass, widest gap first, share what is left of the plan's
 * time, each starting from its first answer and bound; each keeps the better of its two answers.
 */
async function secondPass(
  resolved: ResolvedRequest,
  runner: LayerRunner,
  { now, deadline, signal }: PlanBudget,
  groups: readonly LayerGroup[],
  outcomes: LayerOutcome[],
): Promise<void> {
  const { layerTimeLimitMs, gapTolerance, engine } = resolved.solver;
  // Heuristic engines prove nothing more with more time.
  const exact = engine !== 'greedy' && engine !== 'contiguous';
  const open = exact ? outcomes.map((_o, i) => i).filter((i) => !PROVEN.has(outcomes[i].result.status)) : [];
  open.sort((a, b) => outcomes[b].result.gap - outcomes[a].result.gap || a - b);
  await runEach(open, runner.concurrency, async (index, rounds) => {
    const first = outcomes[index];
    const share = Math.min(layerTimeLimitMs - first.result.solveMs, (deadline - now()) / rounds);
    if (share < MIN_LAYER_SLICE_MS) return;
    const task: LayerTask = {
      problem: groups[index].canonical,
      engine,
      timeLimitMs: share,
      gapTolerance,
      incumbent: first.result.unit2gpu,
      lowerBound: first.result.lowerBound,
    };
    const second = await runSafely(runner, task, signal);
    outcomes[index] = {
      result: betterOf(groups[index].canonical, first.result, second.result, gapTolerance),
      greedyMakespan: first.greedyMakespan,
    };
  });
}

/** [layers] every member layer's answer in its own unit ids, with its baselines. */
function layersOf(
  resolved: ResolvedRequest,
  groups: readonly LayerGroup[],
  outcomes: readonly LayerOutcome[],
): PlanLayer[] {
  const layers = new Array<PlanLayer>(resolved.layers.length);
  groups.forEach((group, i) => {
    const outcome = outcomes[i];
    for (const member of group.members) {
      layers[member.problem.layer] = {
        ...mapBack(member.problem, member.order, outcome.result),
        contiguousMakespan: contiguousMakespanOf(member.problem),
        greedyMakespan: outcome.greedyMakespan,
      };
    }
  });
  return layers;
}

/**
 * The Plan: the layers with their KV fields, relabelled so that per-GPU KV caches are even where
 * labels are free to change (identical GPUs, nothing pinned, not the contiguous engine, whose
 * blocks are the point), and the totals.
 */
export function assemblePlan(resolved: ResolvedRequest, solved: PlanLayer[], solveMs: number): Plan {
  const split = resolved.splits ? splitPlanFields(resolved, solved, resolved.layers) : null;
  let layers = (split?.layers ?? solved).map((layer, l) => withKvFields(resolved, resolved.layers[l], layer));
  const speeds = resolved.speeds;
  const labelsFree =
    resolved.solver.engine !== 'contiguous' &&
    speeds.every((speed) => speed === speeds[0]) &&
    resolved.layers.every((p) => p.unit2pin === undefined);
  if (labelsFree) {
    const labels = evenKvLabels(layers.map((l) => l.kvHeadsPerGpu ?? []));
    layers = layers.map((layer, l) => relabelLayer(layer, labels[l]));
  }
  return {
    id: resolved.id,
    model: { ...resolved.model },
    gpus: { count: speeds.length, speeds: [...speeds] },
    granularity: resolved.granularity,
    unitsPerGpu: resolved.unitsPerGpu,
    maxKvGroupsPerGpu: resolved.maxKvGroupsPerGpu,
    maxKvCacheFactor: resolved.maxKvCacheFactor,
    workload: resolved.workload,
    costModel: { ...resolved.costModel },
    solver: { ...resolved.solver, engineVersion: ENGINE_VERSION },
    ...(resolved.splits ? { splits: { ...resolved.splits } } : {}),
    layers,
    totals: {
      ...planTotals(resolved, layers, resolved.layers, solveMs),
      ...(split ? { fluidBound: split.fluidBound, splitHeads: split.splitHeads } : {}),
    },
    warnings: [...resolved.warnings],
  };
}

/** Runs `step` on every index with `concurrency` at once; `rounds` counts what is left per slot. */
export async function runEach(
  indices: readonly number[],
  concurrency: number,
  step: (index: number, rounds: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < indices.length) {
      const position = next++;
      await step(indices[position], Math.ceil((indices.length - position) / concurrency));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, slot));
}

/**
 * One layer's two answers merged: the better placement, the higher bound (both are valid), the
 * status that gap earns, and both runs' time. A fallback status survives only when the fallback
 * placement is the one kept.
 */
function betterOf(problem: LayerProblem, first: LayerResult, second: LayerResult, gapTolerance: number): LayerResult {
  const kept = second.makespan < first.makespan ? second : first;
  const lowerBound = Math.max(first.lowerBound, second.lowerBound);
  const otherwise = kept.status === 'greedy_fallback' ? 'greedy_fallback' : 'time_limit';
  const status = statusForGap(relativeGap(kept.makespan, Math.min(lowerBound, kept.makespan)), gapTolerance, otherwise);
  if (isSplitResult(kept)) {
    // Its loads come from its parts: keep them, with the better bound.
    const bound = Math.min(lowerBound, kept.makespan);
    return {
      ...kept,
      lowerBound: bound,
      gap: relativeGap(kept.makespan, bound),
      status,
      solveMs: first.solveMs + second.solveMs,
    };
  }
  return buildLayerResult(problem, kept.unit2gpu, {
    lowerBound,
    status,
    engine: kept.engine,
    solveMs: first.solveMs + second.solveMs,
    ...(kept.fallbackReason !== undefined && status === 'greedy_fallback'
      ? { fallbackReason: kept.fallbackReason }
      : {}),
  });
}

function contiguousMakespanOf(problem: LayerProblem): number | null {
  try {
    return makespanOf(problem, contiguousAssignment(problem));
  } catch (error) {
    if (error instanceof HplbError) return null;
    throw error;
  }
}

/** A runner that fails unexpectedly must not sink the plan: greedy answers, and says why. */
async function runSafely(runner: LayerRunner, task: LayerTask, signal: AbortSignal): Promise<LayerOutcome> {
  try {
    return await runner.run(task, { signal });
  } catch (error) {
    if (error instanceof HplbError && error.code !== 'INTERNAL') throw error;
    return greedyFallback(task, error instanceof Error ? error.message : String(error));
  }
}
