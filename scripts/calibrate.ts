/**
 * Times the GPU.js sparse-attention kernel on every pattern, fits per-pattern cost models on
 * executed-work features and writes models/calibrations/<name>.json.
 *
 *   npm run calibrate                                   # the default grid (src/kernel/calibrate.ts)
 *   npm run calibrate -- --name my-device --backend cpu --rounds 2 --out /tmp
 *   npm run calibrate -- --quick --out /tmp             # a small grid, for trying the tool
 *
 * The default name is <node major>-<arch>-<cores>core-<backend>, naming the machine it was
 * measured on. Calibrations are opt-in (`costModel` / `--calibration NAME`): the default cost
 * model is hardware-neutral executed work (src/cost/registry.ts). Prints, per pattern, R^2 and the
 * held-out error, and for all held-out heads together the median error and Spearman correlation.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { CALIBRATION_NAME } from '../src/cost/calibrated.ts';
import { CALIBRATIONS_DIR, machineKey } from '../src/cost/registry.ts';
import { HplbError } from '../src/errors.ts';
import { createGpu, KERNEL_BACKENDS, type KernelBackend } from '../src/kernel/backends.ts';
import { calibrationPoints, DEFAULT_GRID, measureCalibration, type CalibrationGrid } from '../src/kernel/calibrate.ts';

/** A grid small enough to try the tool in seconds. */
const QUICK_GRID: CalibrationGrid = {
  seqLens: [128, 256, 512],
  headDims: [64, 128],
  verticalSlash: {
    fit: [
      [30, 50],
      [60, 100],
      [100, 60],
      [40, 150],
    ],
    holdout: [[50, 80]],
  },
  streaming: { fit: [16, 64, 128, 256], holdout: [32] },
  blockSparse: { fit: [1, 2, 3, 4], holdout: [2] },
  exactLines: { fit: [8, 32, 64], holdout: [16] },
  fullHoldoutSeqLens: [256],
  decodeSeqLens: { fit: [1024, 4096, 8192], holdout: [2048] },
};

function count(value: string): number {
  const x = Number(value);
  if (!Number.isInteger(x) || x < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return x;
}

interface Flags {
  name?: string;
  backend: KernelBackend | 'auto';
  rounds: number;
  warmup: number;
  quick: boolean;
  out: string;
}

const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;

async function main(argv: string[]): Promise<void> {
  const program = new Command('calibrate')
    .description(
      'time the GPU.js kernel per pattern, fit per-pattern cost models, write models/calibrations/<name>.json',
    )
    .option('--name <name>', 'calibration name (default: <machine>-<backend>, naming the machine it was measured on)')
    .addOption(
      new Option('--backend <backend>', 'GPU.js backend').choices(['auto', ...KERNEL_BACKENDS]).default('auto'),
    )
    .option('--rounds <k>', 'timed samples per point', count, 3)
    .option('--warmup <k>', 'untimed calls per visit', count, 1)
    .option('--quick', 'a small grid (sequence lengths 128..512) for trying the tool', false)
    .option('--out <dir>', 'output folder', CALIBRATIONS_DIR);
  program.parse(argv, { from: 'user' });
  const flags = program.opts<Flags>();

  // resolve the backend first: the default name includes it
  const probe = await createGpu(flags.backend);
  const backend = probe.backend;
  probe.release();
  const name = flags.name ?? `${machineKey()}-${backend}`;
  if (!CALIBRATION_NAME.test(name))
    throw new HplbError('VALIDATION_FAILED', `calibration name "${name}" must match ${CALIBRATION_NAME}`, {
      pointer: '/name',
    });
  const grid = flags.quick ? QUICK_GRID : DEFAULT_GRID;
  const points = calibrationPoints(grid).length;
  process.stderr.write(`calibrating "${name}" on ${backend}: ${points} points x ${flags.rounds} rounds\n`);

  const bar = new SingleBar(
    { format: 'calibrate |{bar}| {value}/{total} timed calls | {duration_formatted}', stream: process.stderr },
    Presets.shades_classic,
  );
  bar.start(points * Math.max(1, flags.rounds), 0);
  const calibration = await measureCalibration(
    { name, grid, backend, rounds: flags.rounds, warmup: flags.warmup },
    (done, total) => {
      bar.setTotal(total);
      bar.update(done);
    },
  );
  bar.stop();

  const outDir = resolve(flags.out);
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(calibration, null, 2)}\n`);

  const { timing, holdout, measurements } = calibration;
  const fits = [...Object.entries(calibration.prefill), ['decode', calibration.decode] as const];
  const lines = [
    `wrote ${relative(process.cwd(), path)} (backend ${calibration.backend}, ${calibration.device.name}; load average ${timing.loadBefore.toFixed(2)} -> ${timing.loadAfter.toFixed(2)}, ` +
      `${measurements.filter((m) => m.retimed).length} of ${measurements.length} points re-timed above load ${timing.retimeAboveLoad})`,
    '',
    'pattern                 R^2   fit  held out  median err  max err   coefficients',
    ...fits
      .filter(([, fit]) => fit)
      .map(([pattern, fit]) => {
        const f = fit!;
        return (
          `${String(pattern).padEnd(21)} ${f.r2.toFixed(4)} ${String(f.fitPoints).padStart(5)} ${String(f.holdout.points).padStart(9)} ` +
          `${percent(f.holdout.medianRelativeError).padStart(11)} ${percent(f.holdout.maxRelativeError).padStart(8)}   ` +
          f.features.map((feature, j) => `${feature}=${f.coefficients[j].toPrecision(4)}`).join(' ')
        );
      }),
    '',
    `held-out prefill heads, all patterns: ${holdout.points} points, median relative error ${percent(holdout.medianRelativeError)}, Spearman ${holdout.spearman.toFixed(4)}`,
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
