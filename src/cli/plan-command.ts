import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { HplbError } from '../errors.ts';
import { resolveCostModel } from '../cost/registry.ts';
import { loadSpec } from '../contract/openapi.ts';
import { createValidators } from '../contract/validation.ts';
import { createInlineRunner, type LayerRunner } from '../planner/layer-task.ts';
import type { RequestLimits } from '../planner/limits.ts';
import { createSolverPool } from '../pool/solver-pool.ts';
import { loadGlpk } from '../planner/glpk.ts';
import { resolveMigration } from '../planner/migration.ts';
import { parseKvFactor } from '../planner/query-forms.ts';
import { solveReplan } from '../planner/replan-plan.ts';
import { normalisePlanRequest, type PlanRequest } from '../planner/request.ts';
import { solvePlan } from '../planner/solve-plan.ts';
import { FLAGSHIP_MODEL } from '../profiles/flagship.ts';
import { loadProfile, loadRegistry, type ModelRegistry } from '../profiles/registry.ts';
import { formatPlan, textTable } from './format.ts';
import { cliFrontier, formatFrontier } from './frontier.ts';
import {
  outputOptions,
  problemOptions,
  replanOptions,
  solverOptions,
  workloadOptions,
  type PlanFlags,
} from './plan-options.ts';
import { formatMigration, loadPreviousPlan } from './previous-plan.ts';

/** Output streams, injected so tests can read them. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * `hplb plan`. Its flags become a PlanRequest body that takes the service's own path
 * (normalisePlanRequest: the compiled PlanRequest schema, the same bounds and time-limit clamp),
 * so the CLI refuses what the API refuses, with the same codes and text.
 */
export function planCommand(io: CliIo, limits: RequestLimits): Command {
  const command = new Command('plan').description('place attention heads on GPUs for one model and print the plan');
  for (const add of [problemOptions, workloadOptions, replanOptions, outputOptions]) add(command);
  solverOptions(command, limits);
  return command.action((flags: PlanFlags) => runPlan(flags, io, limits));
}

/** The command's work: the model list, the frontier, or a plan (a re-plan with --previous). */
async function runPlan(flags: PlanFlags, io: CliIo, limits: RequestLimits): Promise<void> {
  const registry = loadRegistry();
  if (flags.list) {
    io.out(
      `${textTable(
        ['id', 'layers', 'query heads', 'kv heads', 'source'],
        registry
          .list()
          .map((p) => [
            p.id,
            String(p.architecture.layers),
            String(p.architecture.queryHeads),
            String(p.architecture.kvHeads),
            p.provenance.repository,
          ]),
      )}\n`,
    );
    return;
  }
  const validate = createValidators(loadSpec().document).operation('createPlan').body;
  const context = { resolveProfile: (id: string) => registry.resolve(id), resolveCostModel };
  const options = { validate: (body: unknown) => validate(body) as PlanRequest, context, limits };
  if (flags.frontier) {
    const frontier = await solveWith(flags.workers, (runner) =>
      cliFrontier(buildRequest(flags, registry), options, runner),
    );
    io.out(flags.json ? `${JSON.stringify(frontier, null, 2)}\n` : formatFrontier(frontier));
    return;
  }
  const { request, resolved, clampedTo } = normalisePlanRequest(buildRequest(flags, registry), options);
  if (clampedTo !== undefined)
    io.err(`note: time limits above ${clampedTo} ms (MAX_TIME_LIMIT_MS) were clamped to it\n`);
  const previous = flags.previous !== undefined ? await loadPreviousPlan(flags.previous, flags.service) : undefined;
  if (!previous && (flags.makespanTolerance !== undefined || flags.maxMoves !== undefined)) {
    throw new HplbError('INVALID_PROBLEM', '--makespan-tolerance and --max-moves need --previous', {
      pointer: '/migration',
    });
  }
  const migration =
    previous &&
    resolveMigration(
      {
        ...request,
        previous: { planId: previous.id },
        migration: { makespanTolerance: flags.makespanTolerance, maxMoves: flags.maxMoves },
      },
      resolved,
      context,
      previous,
    );
  const plan = await solveWith(flags.workers, (runner) =>
    migration ? solveReplan(resolved, migration, runner) : solvePlan(resolved, runner),
  );
  io.out(flags.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan) + formatMigration(plan));
}

/** Runs `work` on the worker pool (the service's path) or, with 0 workers, on this thread. */
async function solveWith<T>(workers: number, work: (runner: LayerRunner) => Promise<T>): Promise<T> {
  if (workers === 0) return work(createInlineRunner(await loadGlpk()));
  const pool = createSolverPool({ size: workers });
  try {
    await pool.ready();
    return await work(pool);
  } finally {
    await pool.close();
  }
}

/**
 * The request body the flags stand for. `--model` is a registry id or a profile file (sent as an
 * inline profile); `--costs` is a JSON file whose fields join the body as they are, so the schema
 * checks them (and refuses unknown ones) exactly as it checks an API body.
 */
function buildRequest(flags: PlanFlags, registry: ModelRegistry): unknown {
  const solver = {
    engine: flags.engine,
    gapTolerance: flags.gap,
    ...(flags.timeLimitMs !== undefined ? { timeLimitMs: flags.timeLimitMs } : {}),
    ...(flags.layerTimeLimitMs !== undefined ? { layerTimeLimitMs: flags.layerTimeLimitMs } : {}),
  };
  const common = {
    gpus: { count: flags.gpus, ...(flags.speeds ? { speeds: flags.speeds } : {}) },
    granularity: flags.granularity,
    constraints: {
      unitsPerGpu: flags.unitsPerGpu,
      ...(flags.maxKvGroups !== undefined ? { maxKvGroupsPerGpu: flags.maxKvGroups } : {}),
      ...(flags.maxKvFactor !== undefined ? { maxKvCacheFactor: parseKvFactor(flags.maxKvFactor) } : {}),
      ...(flags.splitHeads > 0 ? { splits: splitFlags(flags) } : {}),
    },
    workload: flags.mix ? { mix: flags.mix } : { seqLen: flags.seqLen, phase: flags.phase },
    ...((flags.costModel ?? flags.calibration) !== undefined
      ? { costModel: flags.costModel ?? flags.calibration }
      : {}),
    solver,
  };
  if (flags.costs === undefined) {
    const model = flags.model ?? FLAGSHIP_MODEL;
    const isFile = registry.get(model) === undefined && existsSync(model);
    return isFile ? { profile: loadProfile(model), ...common } : { model, ...common };
  }
  let file: unknown;
  try {
    file = JSON.parse(readFileSync(flags.costs, 'utf8'));
  } catch (error) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `cannot read costs file ${flags.costs}: ${error instanceof Error ? error.message : String(error)}`,
      { pointer: '/costs', rule: 'file' },
    );
  }
  if (typeof file !== 'object' || file === null || Array.isArray(file)) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `${flags.costs} must hold a JSON object {"costs": number[layers][queryHeads], "kvGroupSize"?: number}`,
      { pointer: '/costs', rule: 'file' },
    );
  }
  return { ...file, ...common };
}

function splitFlags(flags: PlanFlags): NonNullable<NonNullable<PlanRequest['constraints']>['splits']> {
  return {
    maxSplitHeads: flags.splitHeads,
    ...(flags.partsPerHead !== undefined ? { maxPartsPerHead: flags.partsPerHead } : {}),
    ...(flags.partOverhead !== undefined ? { partOverhead: flags.partOverhead } : {}),
  };
}
