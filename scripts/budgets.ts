/**
 * Head-adaptive budgets from recovery curves (src/budgets/budgets.ts).
 *
 *   npm run budgets -- --demo-curves /tmp/curves.json     # write curves measured on SYNTHETIC heads
 *   npm run budgets -- --curves /tmp/curves.json --target 0.9 --rescale fixed
 *   npm run budgets -- --curves curves.json --target 0.95 --unit keys-per-row --seq-len 32768 --json
 *
 * The curves file is either a request ({ "curves": [...], "target"?, "workload"?, "unit"?,
 * "measuredAt"?, "rescale"?, "interpolation"? }, flags override its fields) or a bare array of
 * curves ({ "layer", "head", "points": [{ "budget", "recovery" }] }). Budgets are counts in `unit`
 * (keys-per-row by default, or blocks); curves measured at another length than the workload's need
 * a rescale rule (src/budgets/units.ts). Exit codes: 0 ok, 2 invalid input.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { finite, positiveInt } from '../src/cli/options.ts';
import { computeBudgets, type BudgetsRequest, type HeadCurve } from '../src/budgets/budgets.ts';
import { DEFAULT_WORKLOAD } from '../src/cost/cost-model.ts';
import { resolveCostModel } from '../src/cost/registry.ts';
import { HplbError } from '../src/errors.ts';
import { recoveryCurve } from '../src/kernel/recovery.ts';
import { syntheticHead, SYNTHETIC_KINDS } from '../src/kernel/synthetic.ts';

interface Flags {
  curves?: string;
  target?: number;
  seqLen?: number;
  phase?: 'prefill' | 'decode';
  interpolation?: 'linear' | 'step';
  unit?: 'keys-per-row' | 'blocks' | 'lines';
  measuredAt?: number;
  rescale?: 'fixed' | 'proportional';
  calibration?: string;
  json: boolean;
  demoCurves?: string;
}

const DEMO_SEQ_LEN = 1024;

/** Curves of one synthetic head of each kind (n = 1024, d = 64), MInference's block picker at 1..16 blocks, for demos. */
function demoCurves(): { synthetic: string; unit: 'blocks'; measuredAt: number; curves: HeadCurve[] } {
  const budgets = [1, 2, 3, 4, 6, 8, 12, 16];
  const curves = SYNTHETIC_KINDS.map((kind, head) => ({
    layer: 0,
    head,
    points: recoveryCurve(syntheticHead({ kind, n: DEMO_SEQ_LEN, seed: head + 1 }), budgets, {
      selector: 'block_topk',
    }).points.map(({ budget, recovery }) => ({ budget, recovery })),
  }));
  return {
    synthetic: `SYNTHETIC heads (${SYNTHETIC_KINDS.join(', ')} for heads 0..3), n=${DEMO_SEQ_LEN}, d=64, MInference block picker; not measured on a model`,
    unit: 'blocks',
    measuredAt: DEMO_SEQ_LEN,
    curves,
  };
}

function readRequest(path: string, flags: Flags): BudgetsRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new HplbError('VALIDATION_FAILED', `cannot read curves file ${path}: ${(error as Error).message}`, {
      pointer: '/curves',
    });
  }
  const base = (Array.isArray(parsed) ? { curves: parsed } : parsed) as Partial<BudgetsRequest> & {
    synthetic?: string;
  };
  const target = flags.target ?? base.target;
  if (target === undefined)
    throw new HplbError('VALIDATION_FAILED', 'a target is needed: --target 0.95 or "target" in the file', {
      pointer: '/target',
    });
  const seqLen = flags.seqLen ?? base.workload?.seqLen;
  const phase = flags.phase ?? base.workload?.phase;
  const { synthetic: _label, ...request } = base;
  return {
    ...request,
    curves: base.curves ?? [],
    target,
    ...(flags.unit ? { unit: flags.unit } : {}),
    ...(flags.measuredAt !== undefined ? { measuredAt: flags.measuredAt } : {}),
    ...(flags.rescale ? { rescale: flags.rescale } : {}),
    ...(flags.interpolation ? { interpolation: flags.interpolation } : {}),
    ...(seqLen !== undefined || phase !== undefined
      ? { workload: { seqLen: seqLen ?? DEFAULT_WORKLOAD.seqLen, phase: phase ?? DEFAULT_WORKLOAD.phase } }
      : {}),
  };
}

function main(argv: string[]): void {
  const program = new Command('budgets')
    .description('smallest budget per head reaching a target recovery, with costs and the saving vs a uniform budget')
    .option('--curves <file>', 'recovery curves (a request or an array of curves)')
    .option('--target <tau>', 'target recovery in (0, 1]', finite)
    .option('--seq-len <n>', `workload sequence length for costs (default ${DEFAULT_WORKLOAD.seqLen})`, positiveInt)
    .addOption(new Option('--phase <phase>', 'workload phase for costs').choices(['prefill', 'decode']))
    .addOption(new Option('--interpolation <rule>', 'reading the curves between points').choices(['linear', 'step']))
    .addOption(
      new Option('--unit <unit>', "unit of the curves' budgets (default keys-per-row)").choices([
        'keys-per-row',
        'blocks',
        'lines',
      ]),
    )
    .option('--measured-at <n>', "sequence length the curves were measured at (default: the workload's)", positiveInt)
    .addOption(
      new Option('--rescale <rule>', 'carrying budgets to another length: keep the counts or scale them').choices([
        'fixed',
        'proportional',
      ]),
    )
    .option('--calibration <name>', 'cost model: "executed-work" (default), "analytic" or a calibration name')
    .option('--json', 'print the response JSON', false)
    .option('--demo-curves <file>', 'write curves measured on synthetic heads to <file> and exit')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  npm run budgets -- --demo-curves /tmp/curves.json   # curves of SYNTHETIC heads, to try it out',
        '  npm run budgets -- --curves /tmp/curves.json --target 0.9 --rescale fixed',
        '  npm run budgets -- --curves curves.json --target 0.95 --unit keys-per-row --seq-len 32768 --json',
      ].join('\n'),
    );
  if (argv.length === 0) {
    // Nothing asked: say what it does and how to call it, rather than fail on a missing --curves.
    program.outputHelp();
    return;
  }
  program.parse(argv, { from: 'user' });
  const flags = program.opts<Flags>();
  if (flags.demoCurves) {
    writeFileSync(flags.demoCurves, `${JSON.stringify(demoCurves(), null, 2)}\n`);
    process.stderr.write(`wrote ${flags.demoCurves} (synthetic heads)\n`);
    return;
  }
  if (!flags.curves) throw new HplbError('VALIDATION_FAILED', '--curves <file> is required', { pointer: '/curves' });
  const costModel = resolveCostModel(flags.calibration);
  const response = computeBudgets(readRequest(flags.curves, flags), costModel);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
    return;
  }
  const { workload, totals, uniform } = response;
  const unit = response.costModel.unit;
  const where = response.costModel.device ? `measured on ${response.costModel.device}` : 'hardware-neutral';
  const lines = [
    `target recovery ${response.target} (${response.interpolation}), ${workload.phase} at ${workload.seqLen} tokens` +
      `, budgets in ${response.unit}, cost model ${response.costModel.name} [${unit}, ${where}]`,
    'layer  head   budget  keys/row  recovery          cost',
    ...response.heads.map(
      (h) =>
        `${String(h.layer).padStart(5)} ${String(h.head).padStart(5)} ${String(h.budget).padStart(8)}` +
        ` ${h.keysPerRow.toFixed(1).padStart(9)} ${h.recovery.toFixed(4).padStart(9)} ${h.cost.toPrecision(6).padStart(13)}`,
    ),
    `adaptive total ${totals.adaptiveCost.toPrecision(6)} ${unit}; uniform budget ${uniform.budget}` +
      ` for every head: ${totals.uniformCost.toPrecision(6)} ${unit}; saving ${(100 * totals.saving).toFixed(1)}%`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof HplbError)) throw error;
  process.stderr.write(
    `budgets: error [${error.code}]${error.pointer ? ` at ${error.pointer}` : ''}: ${error.message}\n`,
  );
  process.exitCode = 2;
}
