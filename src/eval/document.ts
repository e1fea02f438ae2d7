/**
 * The evaluation document (docs/evaluation.json): everything the Markdown report and the SVG plots
 * are rendered from, so that they can be checked against it without solving again. Pure.
 */
import type { Workload } from '../cost/cost-model.ts';
import type { SolverOptions } from '../planner/request.ts';
import type { WorkloadPhase } from '../planner/workload-request.ts';
import type { EvaluationRun, ProfileEvaluation } from './evaluate.ts';
import type { Frontier } from './frontier.ts';
import {
  EVAL_COMMAND,
  EVAL_DECODE,
  EVAL_GPU_COUNTS,
  EVAL_MIX,
  EVAL_SOLVER,
  EVAL_WORKLOAD,
  FLAGSHIP,
  FRONTIER_GPU_COUNTS,
  GENERATED_BY,
  SPLIT_SOLVER,
  UNIFORM_RULE,
} from './settings.ts';
import type { SplitCurvePoint } from './split.ts';

/** A cost model as the document names it. */
export interface CostModelName {
  readonly name: string;
  readonly unit: string;
  readonly device: string | null;
}

export interface EvaluationDocument {
  readonly generatedBy: string;
  readonly command: string;
  /** The prefill tables' cost model. */
  readonly costModel: CostModelName;
  /** The decode and mixed columns' cost model (a roofline: a time on a named device). */
  readonly timeCostModel: CostModelName;
  readonly workload: Workload;
  readonly decodeWorkload: Workload;
  readonly mix: readonly WorkloadPhase[];
  /** The KV-cache cap of the headline columns: the service's default. */
  readonly defaultMaxKvCacheFactor: number;
  readonly granularity: 'query-head';
  readonly unitsPerGpu: 'equal';
  readonly gpuCounts: readonly number[];
  readonly solver: Omit<SolverOptions, 'engine'>;
  readonly uniformRule: string;
  /** Per-layer per-GPU loads ([layers][gpus], cost unit) of the flagship at FLAGSHIP.gpus. */
  readonly flagship: {
    readonly model: string;
    readonly displayName: string;
    readonly gpus: number;
    readonly loads: {
      readonly adaptiveContiguous: number[][];
      readonly adaptiveAuto: number[][];
      readonly unconstrained: number[][];
    };
  };
  /** The flagship's attention time against maxSplitHeads, at SPLIT_CURVE_GPU_COUNTS, solved with splitSolver. */
  readonly splitCurve: readonly SplitCurvePoint[];
  readonly splitSolver: Omit<SolverOptions, 'engine'>;
  readonly frontierGpuCounts: readonly number[];
  /** Every model's KV-cache frontier at frontierGpuCounts, sorted like results. */
  readonly frontiers: readonly Frontier[];
  /**
   * Sorted by model id, then GPU count. Solve times are left out: they differ on every run, and
   * the document is committed (scripts/eval.ts prints them and writes them to bench/results/).
   */
  readonly results: readonly ProfileEvaluation[];
}

const byModelThenGpus = (a: { model: string; gpus: number }, b: { model: string; gpus: number }): number =>
  a.model < b.model ? -1 : a.model > b.model ? 1 : a.gpus - b.gpus;

/** Sorts runs by model id then GPU count; the order every output uses. */
export function sortRuns<T extends { evaluation: ProfileEvaluation }>(runs: readonly T[]): T[] {
  const key = (r: T) => ({ model: r.evaluation.model.id, gpus: r.evaluation.gpus });
  return [...runs].sort((x, y) => byModelThenGpus(key(x), key(y)));
}

/** What the document needs beside the runs. */
export interface DocumentInputs {
  readonly costModel: CostModelName;
  readonly timeCostModel: CostModelName;
  readonly defaultMaxKvCacheFactor: number;
  readonly splitCurve: readonly SplitCurvePoint[];
  readonly frontiers: readonly Frontier[];
}

/** Assembles the document; `runs` must include the flagship at FLAGSHIP.gpus. */
export function buildDocument(runs: readonly EvaluationRun[], inputs: DocumentInputs): EvaluationDocument {
  const sorted = sortRuns(runs);
  const flagship = sorted.find((r) => r.evaluation.model.id === FLAGSHIP.model && r.evaluation.gpus === FLAGSHIP.gpus);
  if (!flagship)
    throw new Error(`the evaluation must include ${FLAGSHIP.model} at ${FLAGSHIP.gpus} GPUs (the flagship)`);
  const name = ({ name, unit, device }: CostModelName): CostModelName => ({ name, unit, device });
  return {
    generatedBy: GENERATED_BY,
    command: EVAL_COMMAND,
    costModel: name(inputs.costModel),
    timeCostModel: name(inputs.timeCostModel),
    workload: { ...EVAL_WORKLOAD },
    decodeWorkload: { ...EVAL_DECODE },
    mix: EVAL_MIX.map((phase) => ({ ...phase })),
    defaultMaxKvCacheFactor: inputs.defaultMaxKvCacheFactor,
    granularity: 'query-head',
    unitsPerGpu: 'equal',
    gpuCounts: [...EVAL_GPU_COUNTS],
    solver: { ...EVAL_SOLVER },
    uniformRule: UNIFORM_RULE,
    flagship: {
      model: FLAGSHIP.model,
      displayName: flagship.evaluation.model.displayName,
      gpus: FLAGSHIP.gpus,
      loads: {
        adaptiveContiguous: flagship.loads.adaptiveContiguous,
        adaptiveAuto: flagship.loads.adaptiveAuto,
        unconstrained: flagship.loads.unconstrained,
      },
    },
    splitCurve: [...inputs.splitCurve],
    splitSolver: { ...SPLIT_SOLVER },
    frontierGpuCounts: [...FRONTIER_GPU_COUNTS],
    frontiers: [...inputs.frontiers].sort(byModelThenGpus),
    results: sorted.map((r) => r.evaluation),
  };
}

/** The document as committed: two-space JSON with a final newline. */
export function serializeDocument(doc: EvaluationDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
