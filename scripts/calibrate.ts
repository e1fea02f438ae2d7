/**
 * Times the GPU.js sparse-attention kernel on this machine, fits the cost model and writes
 * models/calibrations/<name>.json.
 *
 *   npm run calibrate
 *   npm run calibrate -- --seq-lens 1024,2048,4096 --budgets 64,128,256,512,1024 --phase prefill
 *   npm run calibrate -- --name my-device --backend cpu --rounds 3 --out /tmp
 *
 * The default name is <node major>-<arch>-<cores>core-<backend> (decode adds "-decode"), naming the
 * machine it was measured on. The default cost model is the committed calibration, whatever machine
 * runs the service (src/cost/registry.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { nonNegativeInt, positiveInt, positiveIntList } from '../src/cli/options.ts';
import { SingleBar, Presets } from 'cli-progress';
import { CALIBRATION_NAME } from '../src/cost/calibrated.ts';
import { CALIBRATIONS_DIR, machineKey } from '../src/cost/registry.ts';
import { HplbError } from '../src/errors.ts';
import { createGpu, KERNEL_BACKENDS, type KernelBackend } from '../src/kernel/backends.ts';
import { calibrationGrid, measureCalibration } from '../src/kernel/calibrate.ts';

interface Flags {
  seqLens: number[];
  budgets: number[];
  phase: 'prefill' | 'decode';
  name?: string;
  backend: KernelBackend | 'auto';
  headDim: number;
  rounds: number;
  warmup: number;
  holdoutEvery: number;
  out: string;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('calibrate')
    .description('time the GPU.js sparse-attention kernel, fit the cost model, write models/calibrations/<name>.json')
    .option('--seq-lens <list>', 'sequence lengths', positiveIntList, [1024, 2048, 4096])
    .option('--budgets <list>', 'budgets in tokens per query row (those above a length are skipped for it)', positiveIntList, [64, 128, 256, 512, 1024, 2048])
    .addOption(new Option('--phase <phase>', 'workload phase').choices(['prefill', 'decode']).default('prefill'))
    .option('--name <name>', 'calibration name (default: <machine>-<backend>, naming the machine it was measured on)')
    .addOption(new Option('--backend <backend>', 'GPU.js backend').choices(['auto', ...KERNEL_BACKENDS]).default('auto'))
    .option('--head-dim <d>', 'head dimension', positiveInt, 64)
    .option('--rounds <k>', 'timed samples per grid point', positiveInt, 5)
    .option('--warmup <k>', 'untimed calls per visit', nonNegativeInt, 1)
    .option('--holdout-every <k>', 'hold out every k-th grid point from the fit (0: none)', nonNegativeInt, 4)
    .option('--out <dir>', 'output folder', CALIBRATIONS_DIR);
  program.parse(argv, { from: 'user' });
  const flags = program.opts<Flags>();

  // resolve the backend first: the default name includes it
  const probe = await createGpu(flags.backend);
  const backend = probe.backend;
  probe.release();
  const name = flags.name ?? `${machineKey()}-${backend}${flags.phase === 'decode' ? '-decode' : ''}`;
  if (!CALIBRATION_NAME.test(name)) throw new HplbError('VALIDATION_FAILED', `calibration name "${name}" must match ${CALIBRATION_NAME}`, { pointer: '/name' });
  const grid = calibrationGrid(flags.seqLens, flags.budgets);
  const loadBefore = loadavg()[0];
  process.stderr.write(`calibrating "${name}" on ${backend}: ${grid.length} grid points x ${flags.rounds} rounds (load average ${loadBefore.toFixed(2)})\n`);

  const bar = new SingleBar({ format: 'calibrate |{bar}| {value}/{total} timed calls | {duration_formatted}', stream: process.stderr }, Presets.shades_classic);
  bar.start(grid.length * Math.max(1, flags.rounds), 0);
  const calibration = await measureCalibration({
    name, seqLens: flags.seqLens, budgets: flags.budgets, phase: flags.phase, backend,
    headDim: flags.headDim, rounds: flags.rounds, warmup: flags.warmup, holdoutEvery: flags.holdoutEvery,
  }, (done) => bar.update(done));
  bar.stop();

  const outDir = resolve(flags.out);
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(calibration, null, 2)}\n`);

  const { model, holdout, measurements } = calibration;
  const lines = [
    `wrote ${relative(process.cwd(), path)} (backend ${calibration.backend}, ${calibration.device.name}` +
      `, load average ${loadBefore.toFixed(2)} -> ${loadavg()[0].toFixed(2)})`,
    `model: ${model.form}`,
    `  ${model.features.map((f, j) => `${f} = ${model.coefficients[j].toPrecision(6)}`).join(', ')}`,
    `  R^2 = ${model.r2.toFixed(5)} on ${model.fitPoints} points; holdout: ${holdout.points} points` +
      `, mean relative error ${(100 * holdout.meanRelativeError).toFixed(2)}%, max ${(100 * holdout.maxRelativeError).toFixed(2)}%`,
    '',
    '  seqLen  budget        pairs   median ms  spread  predicted ms  residual  held out',
    ...measurements.map((m) => [
      String(m.seqLen).padStart(8), String(m.budget).padStart(7), String(m.pairs).padStart(12),
      (m.medianUs / 1000).toFixed(2).padStart(11), `${(100 * m.spread).toFixed(1)}%`.padStart(7),
      (m.predictedUs / 1000).toFixed(2).padStart(13), `${((100 * m.residualUs) / m.medianUs).toFixed(1)}%`.padStart(9), m.heldOut ? '  yes' : '',
    ].join(' ')),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof HplbError)) throw error;
  process.stderr.write(`calibrate: error [${error.code}]: ${error.message}\n`);
  process.exitCode = 2;
}
