import { existsSync, readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { HplbError } from '../errors.ts';
import { DEFAULT_WORKLOAD } from '../cost/cost-model.ts';
import { resolveCostModel } from '../cost/registry.ts';
import { availableParallelism } from 'node:os';
import { loadSpec } from '../http/openapi.ts';
import { createValidators } from '../http/validation.ts';
import { createInlineRunner, type LayerRunner } from '../planner/layer-task.ts';
import type { RequestLimits } from '../planner/limits.ts';
import { createSolverPool } from '../pool/solver-pool.ts';
import { loadGlpk } from '../planner/glpk.ts';
import { resolveMigration } from '../planner/migration.ts';
import { ENGINE_NAMES } from '../planner/plan.ts';
import { parseKvFactor, parseMix } from '../planner/query-forms.ts';
import { solveReplan } from '../planner/replan-plan.ts';
import { DEFAULT_SOLVER_OPTIONS, normalisePlanRequest, type PlanRequest } from '../planner/request.ts';
import type { WorkloadPhase } from '../planner/workload-request.ts';
import { solvePlan } from '../planner/solve-plan.ts';
import { FLAGSHIP_MODEL } from '../profiles/flagship.ts';
import { loadProfile, loadRegistry, type ModelRegistry } from '../profiles/registry.ts';
import { createEngines } from '../solver/engines/index.ts';
import { formatPlan, textTable } from './format.ts';
import { cliFrontier, formatFrontier } from './frontier.ts';
import { formatMigration, loadPreviousPlan } from './previous-plan.ts';
import { DEFAULT_SERVICE_URL, nonNegative, nonNegativeInt, positiveInt, positiveList } from './options.ts';

interface PlanFlags {
  model?: string;
  costs?: string;
  gpus: number;
  speeds?: number[];
  granularity: 'query-head' | 'kv-group';
  unitsPerGpu: string;
  maxKvGroups?: number;
  maxKvFactor?: string;
  mix?: WorkloadPhase[];
  costModel?: string;
  splitHeads: number;
  partsPerHead?: number;
  partOverhead?: number;
  seqLen: number;
  phase: 'prefill' | 'decode';
  engine: (typeof ENGINE_NAMES)[number];
  timeLimitMs?: number;
  layerTimeLimitMs?: number;
  gap: number;
  calibration?: string;
  workers: number;
  json?: boolean;
  list?: boolean;
  frontier?: boolean;
  previous?: string;
  service: string;
  makespanTolerance?: number;
  maxMoves?: number;
}

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
  return new Command('plan')
    .description('place attention heads on GPUs for one model and print the plan')
    .addOption(
      new Option('--model <id|path>', `model id from models/ or a profile file (default ${FLAGSHIP_MODEL})`).conflicts(
        'costs',
      ),
    )
    .option('--costs <file.json>', 'explicit costs: {"costs": number[layers][queryHeads], "kvGroupSize"?: number}')
    .option('--gpus <n>', 'number of GPUs', positiveInt, 8)
    .option('--speeds <list>', 'relative GPU speeds, comma separated (e.g. 1,1,0.5,1)', positiveList)
    .addOption(
      new Option('--granularity <unit>', 'what is placed').choices(['query-head', 'kv-group']).default('query-head'),
    )
    .option('--units-per-gpu <rule>', 'equal | max:N | free', 'equal')
    .option('--max-kv-groups <n>', 'most distinct KV groups per GPU (query-head units)', positiveInt)
    .option(
      '--max-kv-factor <x|unlimited>',
      'most KV heads stored per layer, as a multiple of what contiguous placement stores (default 1; unlimited: no cap)',
      // Kept as text: commander takes a parser's null for "no value".
      cliForm((text) => (parseKvFactor(text), text)),
    )
    .option('--split-heads <n>', 'most heads of a layer split by query rows across GPUs (0 = off)', nonNegativeInt, 0)
    .option('--parts-per-head <n>', 'most parts of one split head (default 2)', positiveInt)
    .option(
      '--part-overhead <cost>',
      "cost each part of a split head adds, in the cost unit (default: the cost model's fixed cost of a head)",
      nonNegative,
    )
    .option('--seq-len <n>', 'tokens in the workload', positiveInt, DEFAULT_WORKLOAD.seqLen)
    .addOption(new Option('--phase <phase>', 'workload phase').choices(['prefill', 'decode']).default('prefill'))
    .addOption(
      new Option(
        '--mix <phase:seqLen:weight,...>',
        'a workload mix instead of --seq-len/--phase, e.g. prefill:131072:1,decode:131072:500',
      )
        .argParser(cliForm(parseMix))
        .conflicts(['seqLen', 'phase']),
    )
    .addOption(new Option('--engine <engine>', 'placement engine').choices([...ENGINE_NAMES]).default('auto'))
    .option(
      '--time-limit-ms <ms>',
      `time budget of the whole plan (default ${limits.defaultTimeLimitMs}, at most ${limits.maxTimeLimitMs})`,
      positiveInt,
    )
    .option(
      '--layer-time-limit-ms <ms>',
      `most time for one layer (default ${DEFAULT_SOLVER_OPTIONS.layerTimeLimitMs})`,
      positiveInt,
    )
    .option('--gap <tolerance>', 'relative gap that counts as solved', nonNegative, DEFAULT_SOLVER_OPTIONS.gapTolerance)
    .option(
      '--calibration <name>',
      'cost model: "analytic" or a calibration in models/calibrations (default: the committed calibration when present)',
    )
    .addOption(
      new Option(
        '--cost-model <name>',
        'cost model: executed-work (prefill default), roofline:<device> (decode and mix default roofline:h100-sxm), analytic or a calibration',
      ).conflicts('calibration'),
    )
    .option(
      '--workers <n>',
      'solver worker threads (0 = solve on the calling thread)',
      nonNegativeInt,
      availableParallelism(),
    )
    .option(
      '--previous <plan.json|planId>',
      're-plan from this running plan (the --json output of an earlier plan, or the id of a plan the service stores), moving as little as possible',
    )
    .option('--service <url>', 'service to fetch a --previous plan id from', DEFAULT_SERVICE_URL)
    .option(
      '--makespan-tolerance <eps>',
      'with --previous: makespan at most (1 + eps) x the best (default 0.01)',
      nonNegative,
    )
    .option('--max-moves <n>', 'with --previous: most units moved per layer', nonNegativeInt)
    .option('--json', 'print exactly the Plan JSON')
    .option('--list', 'list the models in models/ and exit')
    .addOption(
      new Option(
        '--frontier',
        'solve at every KV-cache cap that can bind (1, 1.25, 1.5, 2, 3, 4, none), the time limit shared among them, and print the points',
      ).conflicts(['maxKvFactor', 'previous']),
    )
    .action(async (flags: PlanFlags) => {
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
    });
}

/** Runs `work` on the worker pool (the service's path) or, with 0 workers, on this thread. */
async function solveWith<T>(workers: number, work: (runner: LayerRunner) => Promise<T>): Promise<T> {
  if (workers === 0) return work(createInlineRunner(createEngines(await loadGlpk())));
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

/** A commander parser from a planner text form: its HplbError becomes commander's usage error. */
function cliForm<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      if (error instanceof HplbError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}
