import type { Plan } from '../planner/plan.ts';
import { bubbleRatio } from '../../public/plan-math.js';

/** Renders rows as an aligned text table; numbers right-aligned. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Compact number: 3 significant digits with an SI suffix (1.23G). */
export function si(x: number): string {
  if (x === 0) return '0';
  const units = ['', 'k', 'M', 'G', 'T', 'P'];
  let i = 0;
  let v = x;
  // Rounded to 3 digits before the unit is chosen: 999.6G reads 1.00T, not 1.00e+3G.
  while (Math.abs(Number(v.toPrecision(3))) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const text = v.toPrecision(3);
  return text.includes('e') ? x.toPrecision(3) : `${text}${units[i]}`;
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

/** The human output of `plan`: a per-layer table and a summary. */
export function formatPlan(plan: Plan): string {
  const unit = plan.costModel.unit;
  const rows = plan.layers.map((l) => {
    const contiguous = l.contiguousMakespan;
    return [
      String(l.layer),
      si(l.makespan),
      si(l.lowerBound),
      pct(l.gap),
      contiguous === null ? 'n/a' : si(contiguous),
      contiguous === null ? 'n/a' : `${(contiguous / l.makespan).toFixed(3)}x`,
      pct(bubbleRatio(l.gpuLoads.reduce((a, b) => a + b, 0) / l.gpuLoads.length, l.makespan)),
      String(l.kvHeadsStored ?? ''),
      l.status,
      l.engine,
      l.solveMs.toFixed(1),
    ];
  });
  const t = plan.totals;
  const proven = `${t.layersProvenOptimal}/${plan.layers.length}`;
  const contiguous =
    t.contiguousMakespan === null
      ? 'infeasible under the constraints'
      : `${si(t.contiguousMakespan)} -> contiguous / plan = ${t.speedupVsContiguous!.toFixed(3)}x`;
  const greedy =
    t.greedyMakespan === null
      ? 'found no placement'
      : `${si(t.greedyMakespan)} -> greedy / plan = ${(t.greedyMakespan / t.makespan).toFixed(4)}x`;
  const relative =
    t.contiguousMakespan === null ? '' : `; ${(t.makespan / t.contiguousMakespan).toFixed(3)} of contiguous`;
  const summary = [
    `model ${plan.model.id ?? '(explicit costs)'} on ${plan.gpus.count} GPUs (${plan.granularity}, units per GPU ${plan.unitsPerGpu})` +
      `, ${describeWorkload(plan.workload)}, cost model ${plan.costModel.name}` +
      ` [${unit}${plan.costModel.device ? `, ${plan.costModel.device}` : ', hardware-neutral'}]`,
    `makespan ${si(t.makespan)} ${unit} (sum over layers${relative}); lower bound ${si(t.lowerBound)}; gap ${pct(t.gap)}` +
      `; layers proven ${proven}`,
    `contiguous ${contiguous}`,
    `greedy ${greedy}; plan / bound = ${(t.makespan / Math.max(t.lowerBound, Number.MIN_VALUE)).toFixed(4)}x`,
    ...(t.fluidBound !== undefined
      ? [
          `split heads ${t.splitHeads} (at most ${plan.splits!.maxSplitHeads} per layer, ${plan.splits!.maxPartsPerHead} parts each, overhead ${si(plan.splits!.partOverhead)}); fluid bound ${si(t.fluidBound)} -> plan / fluid = ${(t.makespan / Math.max(t.fluidBound, Number.MIN_VALUE)).toFixed(4)}x`,
        ]
      : []),
    ...kvSummary(plan),
    ...(t.phases ?? []).map(
      (p) =>
        `phase ${p.phase} at ${p.seqLen} tokens x ${p.weight}: ${si(p.makespan)} ${unit}` +
        (p.speedupVsContiguous === null ? '' : `, contiguous / plan = ${p.speedupVsContiguous.toFixed(3)}x`),
    ),
    `bubble ratio ${pct(t.bubbleRatio)}; engine ${plan.solver.engine}; solve ${t.solveMs.toFixed(0)} ms; plan id ${plan.id}`,
    ...plan.warnings.map((w) => `warning: ${w.message}`),
  ];
  const header = [
    'layer',
    'makespan',
    'bound',
    'gap',
    'contiguous',
    'vs contig',
    'bubble',
    'kv heads',
    'status',
    'engine',
    'ms',
  ];
  return `${textTable(header, rows)}\n\n${summary.join('\n')}\n`;
}

/** "prefill at 131072 tokens", or a mix: "mix of prefill at 131072 tokens x 1 + decode at 131072 tokens x 500". */
function describeWorkload(workload: Plan['workload']): string {
  if ('mix' in workload)
    return `mix of ${workload.mix.map((p) => `${p.phase} at ${p.seqLen} tokens x ${p.weight}`).join(' + ')}`;
  return `${workload.phase} at ${workload.seqLen} tokens`;
}

/** Bytes in binary units: 2.00 GiB. */
function bytes(x: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = x;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)} ${units[i]}`;
}

/** The plan's memory lines: KV heads stored against contiguous, the cap, and the largest per-GPU KV cache. */
function kvSummary(plan: Plan): string[] {
  const t = plan.totals;
  const cap = plan.maxKvCacheFactor === null ? 'no cap' : `cap ${plan.maxKvCacheFactor}`;
  const lines = [
    `KV cache: ${t.kvHeadsStored} KV heads stored (contiguous ${t.contiguousKvHeadsStored}) -> factor ${t.kvCacheFactor.toFixed(3)}x (${cap}); ` +
      `KV count proven least in ${t.layersKvProven}/${plan.layers.length} layers`,
  ];
  if (t.kvBytesPerGpuMax !== null) {
    const contiguous =
      t.contiguousKvBytesPerGpuMax === null ? '' : `, contiguous ${bytes(t.contiguousKvBytesPerGpuMax)}`;
    lines.push(
      `largest per-GPU KV cache ${bytes(t.kvBytesPerGpuMax)} per sequence${contiguous} (no relabelling gives less than ${bytes(t.kvBytesPerGpuMaxLowerBound ?? 0)})`,
    );
  }
  return lines;
}
