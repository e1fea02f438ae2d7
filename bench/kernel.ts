/**
 * Benchmark of the GPU.js sparse-attention kernel, per available backend:
 * - time vs budget at a fixed sequence length,
 * - time vs sequence length at a fixed budget,
 * - sparse at ~10% density vs the dense pipeline at the same length (both GPU.js, same backend),
 * - a split head: its row-range parts' summed time vs the whole plus the modelled per-part overhead.
 * Prints a table, writes JSON (default bench/results/kernel.json) and checks two targets: 4x the
 * budget costs >= 2.5x the time, and sparse at 10% density is >= 3x faster than dense.
 *
 *   npm run bench:kernel
 *   npm run bench:kernel -- --seq-len 2048 --budgets 64,256,1024 --backends webasm --repeats 2
 *
 * Times are on both clocks: wall, and this process's CPU time (the CPU backends run the pipeline
 * synchronously on this thread, so CPU time is the kernel's own work even while other processes
 * load the machine). Targets are judged on CPU time for CPU backends and wall time for webgpu.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { positiveInt, positiveIntList } from '../src/cli/options.ts';
import { attendedPairs } from '../src/cost/cost-model.ts';
import { detectBackends, type KernelBackend } from '../src/kernel/backends.ts';
import { createAttentionRunner } from '../src/kernel/sparse-attention.ts';
import { timeBudget, timeDense, type PointTiming } from '../src/kernel/timing.ts';
import { benchParts, type PartsRow } from './kernel-parts.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Smallest budget whose causal prefill pairs reach `density` of the dense pairs at n. */
function budgetForDensity(n: number, density: number): number {
  const dense = attendedPairs(n, { seqLen: n, phase: 'prefill' });
  let budget = 1;
  while (attendedPairs(budget, { seqLen: n, phase: 'prefill' }) < density * dense) budget++;
  return budget;
}

interface Row {
  readonly sweep: 'budget' | 'seqLen' | 'dense' | 'sparse-10%';
  readonly seqLen: number;
  readonly budget: number | null;
  readonly pairs: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly wallSpread: number;
  readonly cpuSpread: number;
  readonly ranOn: string;
}

function row(sweep: Row['sweep'], seqLen: number, budget: number | null, timing: PointTiming): Row {
  return {
    sweep,
    seqLen,
    budget,
    pairs: timing.pairs,
    ranOn: timing.backend,
    wallMs: timing.wall.medianUs / 1000,
    cpuMs: timing.cpu.medianUs / 1000,
    wallSpread: timing.wall.spread,
    cpuSpread: timing.cpu.spread,
  };
}

async function benchBackend(
  backend: KernelBackend,
  flags: Flags,
  log: (line: string) => void,
): Promise<{ rows: Row[]; splitHeadParts: PartsRow[]; targets: Record<string, unknown> }> {
  const runner = await createAttentionRunner({ backend, cacheSize: 1 });
  const options = { warmup: 1, repeats: flags.repeats };
  const phase = 'prefill' as const;
  const headDim = flags.headDim;
  const rows: Row[] = [];
  const add = (r: Row): void => {
    rows.push(r);
    log(
      [
        backend.padEnd(7),
        r.sweep.padEnd(10),
        String(r.seqLen).padStart(6),
        String(r.budget ?? 'all').padStart(6),
        String(r.pairs).padStart(10),
        r.wallMs.toFixed(1).padStart(9),
        `${(100 * r.wallSpread).toFixed(0)}%`.padStart(5),
        r.cpuMs.toFixed(1).padStart(9),
        `${(100 * r.cpuSpread).toFixed(0)}%`.padStart(5),
        `  ${r.ranOn}`,
      ].join(' '),
    );
  };
  try {
    for (const budget of flags.budgets.filter((b) => b <= flags.seqLen)) {
      add(
        row(
          'budget',
          flags.seqLen,
          budget,
          await timeBudget(runner, { seqLen: flags.seqLen, budget, phase, headDim }, options),
        ),
      );
    }
    for (const seqLen of flags.seqLens) {
      add(
        row(
          'seqLen',
          seqLen,
          flags.budget,
          await timeBudget(runner, { seqLen, budget: Math.min(flags.budget, seqLen), phase, headDim }, options),
        ),
      );
    }
    const sparseBudget = budgetForDensity(flags.seqLen, 0.1);
    const sparse = row(
      'sparse-10%',
      flags.seqLen,
      sparseBudget,
      await timeBudget(runner, { seqLen: flags.seqLen, budget: sparseBudget, phase, headDim }, options),
    );
    add(sparse);
    const dense = row(
      'dense',
      flags.seqLen,
      null,
      await timeDense(runner, { seqLen: flags.seqLen, phase, headDim }, options),
    );
    add(dense);
    const clock = backend === 'webgpu' ? 'wallMs' : 'cpuMs';
    const at = (budget: number): Row | undefined => rows.find((r) => r.sweep === 'budget' && r.budget === budget);
    const low = at(flags.ratioBudget);
    const high = at(4 * flags.ratioBudget);
    const budgetRatio = low && high ? high[clock] / low[clock] : null;
    const speedup = dense[clock] / sparse[clock];
    const parts = await benchParts(
      runner,
      { seqLen: flags.seqLen, budget: flags.budget, headDim },
      options,
      clock === 'cpuMs' ? 'cpu' : 'wall',
    );
    for (const p of parts) {
      log(
        `${backend.padEnd(7)} split head: ${p.parts} parts ${(p.partsUs / 1000).toFixed(1)} ms vs whole ${(p.wholeUs / 1000).toFixed(1)} ms + modelled overhead ${p.modelledOverheadUs === null ? 'n/a' : `${(p.modelledOverheadUs / 1000).toFixed(2)} ms`} -> ratio ${p.ratio?.toFixed(3) ?? 'n/a'}`,
      );
    }
    return {
      rows,
      splitHeadParts: parts,
      targets: {
        clock,
        fourTimesBudget: {
          seqLen: flags.seqLen,
          from: flags.ratioBudget,
          to: 4 * flags.ratioBudget,
          timeRatio: budgetRatio,
          target: 2.5,
          met: budgetRatio !== null && budgetRatio >= 2.5,
        },
        sparseVsDense: {
          seqLen: flags.seqLen,
          budget: sparseBudget,
          density: sparse.pairs / dense.pairs,
          speedup,
          target: 3,
          met: speedup >= 3,
        },
      },
    };
  } finally {
    runner.destroy();
  }
}

interface Flags {
  seqLen: number;
  budgets: number[];
  budget: number;
  seqLens: number[];
  ratioBudget: number;
  headDim: number;
  repeats: number;
  backends?: string[];
  out: string;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('bench:kernel')
    .option('--seq-len <n>', 'sequence length of the budget sweep and of sparse vs dense', positiveInt, 4096)
    .option('--budgets <list>', 'budgets of the budget sweep', positiveIntList, [64, 128, 256, 512, 1024, 2048])
    .option('--budget <b>', 'budget of the length sweep', positiveInt, 256)
    .option('--seq-lens <list>', 'lengths of the length sweep', positiveIntList, [1024, 2048, 4096, 8192])
    .option('--ratio-budget <b>', 'the 4x-budget target compares this budget with 4x it', positiveInt, 256)
    .option('--head-dim <d>', 'head dimension', positiveInt, 64)
    .option('--repeats <k>', 'timed runs per point (after one warm-up)', positiveInt, 3)
    .option('--backends <list>', 'backends to run (default: every available one)', (v: string) => v.split(','))
    .option('--out <file>', 'JSON output', resolve(REPO_ROOT, 'bench/results/kernel.json'));
  program.parse(argv, { from: 'user' });
  const flags = program.opts<Flags>();
  const statuses = await detectBackends();
  const chosen = statuses
    .filter((s) => s.available && (!flags.backends || flags.backends.includes(s.backend)))
    .map((s) => s.backend);
  for (const s of statuses)
    process.stderr.write(`backend ${s.backend}: ${s.available ? 'available' : 'unavailable'} (${s.detail})\n`);
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  log(
    `load average ${loadavg()[0].toFixed(2)}; times are medians of ${flags.repeats} runs after one warm-up, head dim ${flags.headDim}, causal prefill`,
  );
  log('backend sweep      seqLen budget      pairs   wall ms  spr    cpu ms  spr  ran on');
  const results: Record<string, unknown> = {};
  for (const backend of chosen) results[backend] = await benchBackend(backend, flags, log);
  for (const [backend, result] of Object.entries(results)) {
    const t = (
      result as {
        targets: {
          clock: string;
          fourTimesBudget: { timeRatio: number | null; met: boolean; from: number; to: number };
          sparseVsDense: { speedup: number; density: number; met: boolean };
        };
      }
    ).targets;
    log(
      `${backend}: ${t.fourTimesBudget.to}/${t.fourTimesBudget.from} budget time ratio ${t.fourTimesBudget.timeRatio?.toFixed(2) ?? 'n/a'}` +
        ` (target >= 2.5: ${t.fourTimesBudget.met ? 'met' : 'NOT met'}); ` +
        `sparse at ${(100 * t.sparseVsDense.density).toFixed(1)}% density ${t.sparseVsDense.speedup.toFixed(2)}x faster than dense` +
        ` (target >= 3: ${t.sparseVsDense.met ? 'met' : 'NOT met'}) [${t.clock}]`,
    );
  }
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    loadAverage: loadavg(),
    flags: { ...flags, out: undefined },
    backends: statuses,
    results,
  };
  mkdirSync(dirname(resolve(flags.out)), { recursive: true });
  writeFileSync(resolve(flags.out), `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`wrote ${flags.out}\n`);
}

await main(process.argv.slice(2));
