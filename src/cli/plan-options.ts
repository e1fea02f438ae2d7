/**
 * The flags of `hplb plan`, in groups; each becomes a field of the request body (plan-command.ts,
 * buildRequest) or steers the command itself.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_WORKLOAD } from '../cost/cost-model.ts';
import { availableParallelism } from 'node:os';
import { HplbError } from '../errors.ts';
import type { RequestLimits } from '../planner/limits.ts';
import { ENGINE_NAMES } from '../planner/plan.ts';
import { parseKvFactor, parseMix } from '../planner/query-forms.ts';
import { DEFAULT_SOLVER_OPTIONS } from '../planner/request.ts';
import type { WorkloadPhase } from '../planner/workload-request.ts';
import { FLAGSHIP_MODEL } from '../profiles/flagship.ts';
import { DEFAULT_SERVICE_URL, nonNegative, nonNegativeInt, positiveInt, positiveList } from './options.ts';

export interface PlanFlags {
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

/** The model or costs, the GPUs and the constraints. */
export function problemOptions(command: Command): Command {
  return command
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
      cliForm((text) => {
        parseKvFactor(text);
        return text;
      }),
    )
    .option('--split-heads <n>', 'most heads of a layer split by query rows across GPUs (0 = off)', nonNegativeInt, 0)
    .option('--parts-per-head <n>', 'most parts of one split head (default 2)', positiveInt)
    .option(
      '--part-overhead <cost>',
      "cost each part of a split head adds, in the cost unit (default: the cost model's fixed cost of a head)",
      nonNegative,
    );
}

/** The workload: one phase or a mix. */
export function workloadOptions(command: Command): Command {
  return command
    .option('--seq-len <n>', 'tokens in the workload', positiveInt, DEFAULT_WORKLOAD.seqLen)
    .addOption(new Option('--phase <phase>', 'workload phase').choices(['prefill', 'decode']).default('prefill'))
    .addOption(
      new Option(
        '--mix <phase:seqLen:weight,...>',
        'a workload mix instead of --seq-len/--phase, e.g. prefill:131072:1,decode:131072:500',
      )
        .argParser(cliForm(parseMix))
        .conflicts(['seqLen', 'phase']),
    );
}

/** The engine, its limits and the cost model. */
export function solverOptions(command: Command, limits: RequestLimits): Command {
  return command
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
    .option('--calibration <name>', 'the cost model, as --cost-model names it (kept for scripts that use this name)')
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
    );
}

/** A re-plan from a running plan. */
export function replanOptions(command: Command): Command {
  return command
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
    .option('--max-moves <n>', 'with --previous: most units moved per layer', nonNegativeInt);
}

/** What is printed. */
export function outputOptions(command: Command): Command {
  return command
    .option('--json', 'print exactly the Plan JSON')
    .option('--list', 'list the models in models/ and exit')
    .addOption(
      new Option(
        '--frontier',
        'solve at every KV-cache cap that can bind (1, 1.25, 1.5, 2, 3, 4, none), the time limit shared among them, and print the points',
      ).conflicts(['maxKvFactor', 'previous']),
    );
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
