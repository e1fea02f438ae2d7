/**
 * The all-distinct-costs suite of `npm run bench:solver -- --suite`: seeded log-normal head costs
 * (median 3000, sigma 0.6; what an orchestrator's own kernel timings look like), equal heads per
 * GPU, the CLI's defaults (plan 10 s, layer 2 s, gap tolerance 1e-4), planned by this tree and by
 * a baseline commit (git-archived to /tmp and imported) side by side in one run. Per case: layers
 * proven, worst gap, plan time, and the worst gaps of greedy (LPT then local search) and of the
 * differencing construction (bare, and with the same local search) against the best valid bound
 * either version proved.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { textTable } from '../src/cli/format.ts';
import { ANALYTIC_COST_MODEL } from '../src/cost/cost-model.ts';
import { loadGlpk } from '../src/planner/glpk.ts';
import { createInlineRunner } from '../src/planner/layer-task.ts';
import { resolveRequest, type ResolvedRequest } from '../src/planner/request.ts';
import { solvePlan } from '../src/planner/solve-plan.ts';
import { differencingAssignment, differencingPlacement } from '../src/solver/engines/differencing.ts';
import { greedyAssignment } from '../src/solver/engines/greedy.ts';
import { makespanOf, relativeGap } from '../src/solver/layer-result.ts';
import type { LayerProblem } from '../src/solver/types.ts';
import type { Plan } from '../src/planner/plan.ts';
import { logNormalCosts } from '../src/kernel/synthetic.ts';

export interface SuiteCase {
  readonly heads: number;
  readonly layers: number;
  readonly gpus: number;
}

/** The issue's table, plus 32 heads on 4 GPUs and 64 heads on 32 GPUs. */
export const SUITE_CASES: readonly SuiteCase[] = [
  { heads: 32, layers: 8, gpus: 4 },
  { heads: 32, layers: 8, gpus: 8 },
  { heads: 64, layers: 8, gpus: 8 },
  { heads: 64, layers: 8, gpus: 16 },
  { heads: 64, layers: 8, gpus: 32 },
  { heads: 128, layers: 8, gpus: 8 },
  { heads: 128, layers: 8, gpus: 16 },
  { heads: 128, layers: 126, gpus: 16 },
];

/** A plan function and what it needs: this tree's, or a baseline's. */
export interface Planner {
  readonly name: string;
  plan(resolved: ResolvedRequest): Promise<Plan>;
}

async function currentPlanner(): Promise<Planner> {
  const runner = createInlineRunner(await loadGlpk());
  return { name: 'this tree', plan: (resolved) => solvePlan(resolved, runner) };
}

/**
 * The planner of another commit: `git archive` of its src/ (and the public/ modules src/ imports) into /tmp (once), node_modules linked,
 * then its own solvePlan, inline runner and engines imported (the same plan request shape).
 */
export async function baselinePlanner(ref: string): Promise<Planner> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim();
  const dir = `/tmp/hplb-baseline-${commit}`;
  if (!existsSync(`${dir}/src`)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${commit} src models public package.json | tar -x -C ${dir}`], {
      cwd: root,
    });
    symlinkSync(`${root}/node_modules`, `${dir}/node_modules`);
  }
  const engines = await import(`${dir}/src/solver/engines/index.ts`);
  const tasks = await import(`${dir}/src/planner/layer-task.ts`);
  const planner = await import(`${dir}/src/planner/solve-plan.ts`);
  const glpk = await import(`${dir}/src/planner/glpk.ts`);
  const instance = await glpk.loadGlpk();
  // Trees that kept GLPK in module state (and export loadedGlpk) built their inline runner on engines.
  const runner =
    'loadedGlpk' in glpk
      ? tasks.createInlineRunner(engines.createEngines(instance))
      : tasks.createInlineRunner(instance);
  return { name: commit, plan: (resolved) => planner.solvePlan(resolved, runner) };
}

const PROVEN = new Set(['optimal', 'within_tolerance', 'trivial']);

interface VersionRow {
  proven: number;
  worstGap: number;
  planMs: number;
  maxLayerMs: number;
  /** Longest solve among the proven layers (0 when none is). */
  maxProvenLayerMs: number;
  fallbacks: number;
  makespan: number;
}

function summarise(plan: Plan): VersionRow {
  return {
    proven: plan.layers.filter((l) => PROVEN.has(l.status)).length,
    worstGap: Math.max(...plan.layers.map((l) => l.gap)),
    planMs: plan.totals.solveMs,
    maxLayerMs: Math.max(...plan.layers.map((l) => l.solveMs)),
    maxProvenLayerMs: Math.max(0, ...plan.layers.filter((l) => PROVEN.has(l.status)).map((l) => l.solveMs)),
    fallbacks: plan.layers.filter((l) => l.status === 'greedy_fallback').length,
    makespan: plan.totals.makespan,
  };
}

/** Worst gap of a construction over the layers, against the best bound of each layer. */
function constructionGap(
  problems: readonly LayerProblem[],
  bounds: readonly number[],
  assign: (p: LayerProblem) => number[] | null,
): number {
  return Math.max(
    ...problems.map((p, l) => {
      const unit2gpu = assign(p);
      return unit2gpu ? relativeGap(makespanOf(p, unit2gpu), bounds[l]) : NaN;
    }),
  );
}

export interface SuiteOptions {
  /** Layers per case at most (quick mode), and the plan limit scaled to them. */
  readonly maxLayers?: number;
  /** Git ref of the baseline; null for none. */
  readonly baseline: string | null;
  readonly onProgress?: (line: string) => void;
}

export async function runSuite(options: SuiteOptions) {
  const planners = [await currentPlanner(), ...(options.baseline ? [await baselinePlanner(options.baseline)] : [])];
  const rows = [];
  for (const [index, c] of SUITE_CASES.entries()) {
    const layers = Math.min(c.layers, options.maxLayers ?? c.layers);
    const costs = logNormalCosts(c.heads, layers, 1000 + index);
    // The CLI's defaults; quick mode keeps the plan limit per layer the full run gives.
    const timeLimitMs = Math.round((10_000 * layers) / c.layers);
    const resolved = resolveRequest(
      { costs, gpus: { count: c.gpus }, solver: { timeLimitMs, layerTimeLimitMs: 2000, gapTolerance: 1e-4 } },
      {
        resolveProfile: () => {
          throw new Error('the suite plans explicit costs');
        },
        resolveCostModel: () => ANALYTIC_COST_MODEL,
      },
    );
    const plans: Plan[] = [];
    for (const planner of planners) plans.push(await planner.plan(resolved));
    const bounds = resolved.layers.map((_, l) => Math.max(...plans.map((p) => p.layers[l].lowerBound)));
    const versions = Object.fromEntries(planners.map((p, i) => [p.name, summarise(plans[i])]));
    const row = {
      case: `${c.heads}x${layers}, G${c.gpus}`,
      heads: c.heads,
      gpus: c.gpus,
      layers,
      timeLimitMs,
      versions,
      lptGap: constructionGap(resolved.layers, bounds, greedyAssignment),
      differencingGap: constructionGap(resolved.layers, bounds, differencingPlacement),
      differencingLsGap: constructionGap(resolved.layers, bounds, differencingAssignment),
    };
    rows.push(row);
    options.onProgress?.(
      `suite ${row.case}: ${planners.map((p) => `${p.name} ${versions[p.name].proven}/${layers} proven, ${versions[p.name].planMs.toFixed(0)} ms`).join('; ')}`,
    );
  }
  return { planners: planners.map((p) => p.name), rows };
}

type SuiteResult = Awaited<ReturnType<typeof runSuite>>;

const percent = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(3)}%` : 'n/a');

/** Markdown table of a suite run: per version proven share, worst gap, plan time; construction gaps. */
export function formatSuite(result: SuiteResult): string {
  const header = ['case'];
  for (const name of result.planners) {
    header.push(`${name} proven`, 'worst gap', 'plan ms', 'max layer ms', 'max proven ms', 'fallbacks');
  }
  header.push('LPT+LS gap', 'KK gap', 'KK+LS gap');
  const rows = result.rows.map((r) => [
    r.case,
    ...result.planners.flatMap((name) => {
      const v = r.versions[name];
      const ms = [v.planMs, v.maxLayerMs, v.maxProvenLayerMs].map((x) => x.toFixed(0));
      return [`${v.proven}/${r.layers}`, percent(v.worstGap), ...ms, String(v.fallbacks)];
    }),
    percent(r.lptGap),
    percent(r.differencingGap),
    percent(r.differencingLsGap),
  ]);
  return textTable(header, rows);
}
