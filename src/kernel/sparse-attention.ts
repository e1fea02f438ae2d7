/**
 * Sparse attention of one head on GPU.js: a four-kernel pipeline (scores on the selected
 * positions, row log-sum-exp, row softmax, weighted sum of V) over a padded per-row index, plus
 * the same pipeline over every key as the dense baseline on the same backend. Every result says
 * which GPU.js backend actually ran it.
 */
import type { GPU, IKernelRunShortcut } from 'gpu.js';
import { HplbError } from '../errors.ts';
import { createGpu, type KernelBackend } from './backends.ts';
import {
  DENSE_OUTPUT,
  DENSE_PROBS,
  DENSE_ROW_LSE,
  DENSE_SCORES,
  SPARSE_OUTPUT,
  SPARSE_PROBS,
  SPARSE_ROW_LSE,
  SPARSE_SCORES,
} from './kernel-sources.ts';
import { buildRowIndex, type AttentionPattern, type RowIndex } from './pattern.ts';
import { queryRows, scoreScale, validateInput, type AttentionInput } from './reference.ts';

export interface AttentionResult {
  /** [rows * d] attention output, row-major. */
  readonly output: Float32Array;
  /** GPU.js mode every kernel of the pipeline ran on ("webgpu", "webasm", "cpu", ...). */
  readonly backend: string;
  /** "dense", the pattern kind, or "indexed" for a prebuilt index. */
  readonly pattern: AttentionPattern['kind'] | 'dense' | 'indexed';
  readonly rows: number;
  readonly n: number;
  readonly d: number;
  /** Score/value pairs computed: selected pairs (sparse) or visible pairs (dense). */
  readonly pairs: number;
  /** Milliseconds building the row index on the host (0 for dense or a prebuilt index). */
  readonly indexMs: number;
  /** Milliseconds of the kernel pipeline, inputs in to output read back (wall clock). */
  readonly kernelMs: number;
  /**
   * CPU milliseconds this process spent meanwhile (user + system). On the CPU backends (webasm,
   * cpu) the pipeline runs synchronously on this thread, so this is its work whatever else loads
   * the machine; on webgpu it is only the host's share.
   */
  readonly cpuMs: number;
}

export interface AttentionRunner {
  /** The backend the runner's GPU instance was created on. */
  readonly backend: KernelBackend;
  /** Attention over the positions `pattern` selects. Throws INVALID_PROBLEM for a bad pattern or input. */
  sparse(input: AttentionInput, pattern: AttentionPattern): Promise<AttentionResult>;
  /** Attention over a prebuilt index (its rows and n must match the input). */
  sparseIndexed(input: AttentionInput, index: RowIndex): Promise<AttentionResult>;
  /** Dense attention (every causal key, or every key) with the plain dense pipeline. */
  dense(input: AttentionInput): Promise<AttentionResult>;
  /** Frees every compiled kernel and the GPU instance. */
  destroy(): void;
}

export interface AttentionRunnerOptions {
  /** GPU.js backend; 'auto' takes the best available (webgpu, webasm, cpu). */
  readonly backend?: KernelBackend | 'auto';
  /** Compiled pipelines kept (one per shape); older ones are destroyed. Default 2. */
  readonly cacheSize?: number;
}

type Kernel = IKernelRunShortcut;
interface Pipeline {
  readonly stages: readonly [Kernel, Kernel, Kernel, Kernel];
}

/** The mode a kernel shortcut actually runs on (after any GPU.js fallback). */
function modeOf(kernel: Kernel): string {
  return (kernel as unknown as { kernel: { constructor: { mode: string } } }).kernel.constructor.mode;
}

/** A kernel result (flat typed array, array of rows, or a GPU-resident handle) as a flat array. */
async function flatten(result: unknown, rows: number, cols: number): Promise<Float32Array> {
  let value = result;
  const handle = value as { toArray?: () => unknown };
  if (typeof handle.toArray === 'function' && !Array.isArray(value)) value = await handle.toArray();
  if (value instanceof Float32Array && value.length === rows * cols) return value;
  const out = new Float32Array(rows * cols);
  (value as ArrayLike<number>[]).forEach((row, r) => out.set(row, r * cols));
  return out;
}

function compile(
  gpu: GPU,
  sources: readonly string[],
  rows: number,
  width: number,
  d: number,
  constants: Record<string, number>,
): Pipeline {
  const outputs = [[width, rows], [rows], [width, rows], [d, rows]];
  const stages = sources.map(
    (source, i) =>
      gpu.createKernel(source, {
        output: outputs[i],
        constants,
        // intermediates stay in the backend's own memory; the last stage reads back
        pipeline: i < sources.length - 1,
        tactic: 'precision',
      }) as unknown as Kernel,
  );
  return { stages: stages as unknown as Pipeline['stages'] };
}

/** Starts timing; the returned function gives wall and process-CPU milliseconds since the start. */
function startClock(): () => { kernelMs: number; cpuMs: number } {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { kernelMs: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
  };
}

function destroyPipeline(pipeline: Pipeline): void {
  for (const stage of pipeline.stages) stage.destroy();
}

/** Creates a runner on one GPU.js backend. Release it with destroy(). */
export async function createAttentionRunner(options: AttentionRunnerOptions = {}): Promise<AttentionRunner> {
  const handle = await createGpu(options.backend ?? 'auto');
  const cacheSize = Math.max(1, options.cacheSize ?? 2);
  const cache = new Map<string, Pipeline>();

  function pipelineFor(kind: 'sparse' | 'dense', input: AttentionInput, width: number): Pipeline {
    const rows = queryRows(input);
    const constants = {
      d: input.d,
      scale: scoreScale(input),
      width,
      first: input.n - rows,
      causal: input.causal ? 1 : 0,
    };
    const key = `${kind}:${rows}:${input.n}:${JSON.stringify(constants)}`;
    const cached = cache.get(key);
    if (cached) {
      cache.delete(key);
      cache.set(key, cached);
      return cached;
    }
    const sources =
      kind === 'sparse'
        ? [SPARSE_SCORES, SPARSE_ROW_LSE, SPARSE_PROBS, SPARSE_OUTPUT]
        : [DENSE_SCORES, DENSE_ROW_LSE, DENSE_PROBS, DENSE_OUTPUT];
    const pipeline = compile(handle.gpu, sources, rows, width, input.d, constants);
    cache.set(key, pipeline);
    while (cache.size > cacheSize) {
      const [oldest] = cache.keys();
      destroyPipeline(cache.get(oldest) as Pipeline);
      cache.delete(oldest);
    }
    return pipeline;
  }

  function backendOf(pipeline: Pipeline): string {
    const modes = [...new Set(pipeline.stages.map(modeOf))];
    return modes.length === 1 ? modes[0] : `mixed(${modes.join(',')})`;
  }

  async function sparseIndexed(
    input: AttentionInput,
    index: RowIndex,
    indexMs = 0,
    kind: AttentionResult['pattern'] = 'indexed',
  ): Promise<AttentionResult> {
    validateInput(input);
    const rows = queryRows(input);
    if (index.rows !== rows || index.n !== input.n) {
      throw new HplbError(
        'INVALID_PROBLEM',
        `index is for ${index.rows} x ${index.n} (rows x keys), input is ${rows} x ${input.n}`,
        { pointer: '/index' },
      );
    }
    const pipeline = pipelineFor('sparse', input, index.width);
    const [scores, rowLse, probs, output] = pipeline.stages;
    const clock = startClock();
    const s = await scores(input.q, input.k, index.keys, index.rowLength);
    const lse = await rowLse(s, index.rowLength);
    const p = await probs(s, lse, index.rowLength);
    const out = await flatten(await output(p, input.v, index.keys, index.rowLength), rows, input.d);
    return {
      output: out,
      backend: backendOf(pipeline),
      pattern: kind,
      rows,
      n: input.n,
      d: input.d,
      pairs: index.pairs,
      indexMs,
      ...clock(),
    };
  }

  return {
    backend: handle.backend,
    async sparse(input, pattern) {
      // sparseIndexed validates the input; buildRowIndex checks the shape it reads.
      const start = performance.now();
      const index = buildRowIndex(pattern, input);
      return sparseIndexed(input, index, performance.now() - start, pattern.kind);
    },
    sparseIndexed: (input, index) => sparseIndexed(input, index),
    async dense(input) {
      validateInput(input);
      const rows = queryRows(input);
      const pipeline = pipelineFor('dense', input, input.n);
      const [scores, rowLse, probs, output] = pipeline.stages;
      const clock = startClock();
      const s = await scores(input.q, input.k);
      const lse = await rowLse(s);
      const p = await probs(s, lse);
      const out = await flatten(await output(p, input.v), rows, input.d);
      const elapsed = clock();
      const first = input.n - rows;
      const pairs = input.causal ? rows * (first + 1) + (rows * (rows - 1)) / 2 : rows * input.n;
      return {
        output: out,
        backend: backendOf(pipeline),
        pattern: 'dense',
        rows,
        n: input.n,
        d: input.d,
        pairs,
        indexMs: 0,
        ...elapsed,
      };
    },
    destroy() {
      for (const pipeline of cache.values()) destroyPipeline(pipeline);
      cache.clear();
      handle.release();
    },
  };
}
