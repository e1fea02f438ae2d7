import { bubbleRatio } from '../../public/plan-math.js';
import { HplbError } from '../errors.ts';
import { contiguousAssignment } from '../solver/engines/contiguous.ts';
import { buildLayerResult, makespanOf, relativeGap, statusForGap } from '../solver/layer-result.ts';
import { sum } from '../solver/problem.ts';
import type { LayerProblem, LayerResult } from '../solver/types.ts';
import { greedyFallback, type LayerOutcome, type LayerRunner, type LayerTask } from './layer-task.ts';
import { ENGINE_VERSION, type Plan, type PlanLayer } from './plan.ts';
import type { ResolvedRequest } from './request.ts';
import { buildSplitResult } from '../solver/split/engine.ts';
import { isSplitResult, splitPlanFields } from './split-plan.ts';

/** Least time a layer is given even when the plan's budget is nearly spent, ms. */
const MIN_LAYER_SLICE_MS = 5;
/** Share of the plan's time the first pass over every layer may use. */
const FIRST_PASS_SHARE = 0.5;
const PROVEN: ReadonlySet<string> = new Set(['optimal', 'within_tolerance', 'trivial']);

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
  const { now, start, deadline, signal } = budget;
  // Contiguous placement depends on unit order, so its layers are never reordered.
  const groups = groupIdenticalLayers(resolved.layers, resolved.solver.engine !== 'contiguous');

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

  const layers = new Array<PlanLayer>(resolved.layers.length);
  groups.forEach((group, i) => {
    const outcome = outcomes[i]!;
    for (const member of group.members) {
      layers[member.problem.layer] = {
        ...mapBack(member.problem, member.order, outcome.result),
        contiguousMakespan: contiguousMakespanOf(member.problem),
        greedyMakespan: outcome.greedyMakespan,
      };
    }
  });
  const split = resolved.splits ? splitPlanFields(resolved, layers, resolved.layers) : null;
  if (split) layers.splice(0, layers.length, ...split.layers);
  const contiguous = layers.map((l) => l.contiguousMakespan);
  const greedyMakespans = layers.map((l) => l.greedyMakespan);

  const makespan = sum(layers.map((l) => l.makespan));
  const lowerBound = sum(layers.map((l) => l.lowerBound));
  const contiguousMakespan = contiguous.every((c) => c !== null) ? sum(contiguous as number[]) : null;
  const greedyMakespan = greedyMakespans.every((g) => g !== null) ? sum(greedyMakespans as number[]) : null;
  const meanLoads = sum(layers.map((l) => sum(l.gpuLoads) / l.gpuLoads.length));
  return {
    id: resolved.id,
    model: { ...resolved.model },
    gpus: { count: resolved.speeds.length, speeds: [...resolved.speeds] },
    granularity: resolved.granularity,
    unitsPerGpu: resolved.unitsPerGpu,
    maxKvGroupsPerGpu: resolved.maxKvGroupsPerGpu,
    workload: { ...resolved.workload },
    costModel: { ...resolved.costModel },
    solver: { ...resolved.solver, engineVersion: ENGINE_VERSION },
    ...(resolved.splits
      ? {
          splits: {
            maxSplitHeads: resolved.splits.maxSplitHeads,
            maxPartsPerHead: resolved.splits.maxPartsPerHead,
            partOverhead: resolved.splits.partOverhead,
          },
        }
      : {}),
    layers,
    totals: {
      makespan,
      lowerBound,
      gap: relativeGap(makespan, lowerBound),
      contiguousMakespan,
      greedyMakespan,
      speedupVsContiguous: contiguousMakespan !== null && makespan > 0 ? contiguousMakespan / makespan : null,
      bubbleRatio: bubbleRatio(meanLoads, makespan),
      layersProvenOptimal: layers.filter(
        (l) => l.status === 'optimal' || l.status === 'within_tolerance' || l.status === 'trivial',
      ).length,
      solveMs: now() - start,
      ...(split ? { fluidBound: split.fluidBound, splitHeads: split.splitHeads } : {}),
    },
  };
}

/** Runs `step` on every index with `concurrency` at once; `rounds` counts what is left per slot. */
async function runEach(
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

interface LayerGroup {
  /** The problem actually solved: the first member's, units sorted by cost when that is allowed. */
  readonly canonical: LayerProblem;
  /** Each member layer and its order: canonical unit i is the member's unit order[i]. */
  readonly members: { readonly problem: LayerProblem; readonly order: readonly number[] }[];
}

function groupIdenticalLayers(layers: readonly LayerProblem[], mayReorder: boolean): LayerGroup[] {
  const byKey = new Map<string, LayerGroup>();
  const groups: LayerGroup[] = [];
  for (const problem of layers) {
    const tiedToIds = !mayReorder || problem.unit2pin !== undefined || problem.unit2group !== undefined;
    const order = problem.costs.map((_, u) => u);
    if (!tiedToIds) order.sort((a, b) => problem.costs[b] - problem.costs[a] || a - b);
    const costs = order.map((u) => problem.costs[u]);
    const splits = problem.splits
      ? { ...problem.splits, units: order.map((u) => problem.splits!.units[u]) }
      : undefined;
    // A unit's KV group only changes what a split answer reports, not what it costs.
    const rowCosts = splits?.units.map(({ variable, partOverhead, heads }) => [variable, partOverhead, heads]) ?? null;
    const key = JSON.stringify([costs, problem.unit2pin ?? null, problem.unit2group ?? null, rowCosts]);
    let group = byKey.get(key);
    if (!group) {
      group = { canonical: { ...problem, costs, ...(splits ? { splits } : {}) }, members: [] };
      byKey.set(key, group);
      groups.push(group);
    }
    group.members.push({ problem, order });
  }
  return groups;
}

/** Translates a canonical answer back to a member layer's own unit ids. */
function mapBack(problem: LayerProblem, order: readonly number[], canonical: LayerResult): LayerResult {
  const unit2gpu = new Array<number>(order.length);
  order.forEach((u, i) => {
    unit2gpu[u] = canonical.unit2gpu[i];
  });
  const { lowerBound, status, engine, solveMs, fallbackReason } = canonical;
  if (isSplitResult(canonical) && problem.splits) {
    const parts = canonical.parts.map((part) => ({ ...part, unit: order[part.unit] }));
    const meta = {
      lowerBound,
      status,
      engine,
      solveMs,
      fallbackReason,
      gapTolerance: 0,
      wholeMakespan: canonical.wholeMakespan,
    };
    return buildSplitResult({ ...problem, splits: problem.splits }, unit2gpu, parts, meta);
  }
  return buildLayerResult(problem, unit2gpu, { lowerBound, status, engine, solveMs, fallbackReason });
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
