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
      `, ${plan.workload.phase} at ${plan.workload.seqLen} tokens, cost model ${plan.costModel.name}` +
      ` [${unit}${plan.costModel.device ? `, measured on ${plan.costModel.device}` : ', hardware-neutral'}]`,
    `makespan ${si(t.makespan)} ${unit} (sum over layers${relative}); lower bound ${si(t.lowerBound)}; gap ${pct(t.gap)}` +
      `; layers proven ${proven}`,
    `contiguous ${contiguous}`,
    `greedy ${greedy}; plan / bound = ${(t.makespan / Math.max(t.lowerBound, Number.MIN_VALUE)).toFixed(4)}x`,
    ...(t.fluidBound !== undefined
      ? [
          `split heads ${t.splitHeads} (at most ${plan.splits!.maxSplitHeads} per layer, ${plan.splits!.maxPartsPerHead} parts each, overhead ${si(plan.splits!.partOverhead)}); fluid bound ${si(t.fluidBound)} -> plan / fluid = ${(t.makespan / Math.max(t.fluidBound, Number.MIN_VALUE)).toFixed(4)}x`,
        ]
      : []),
    `bubble ratio ${pct(t.bubbleRatio)}; engine ${plan.solver.engine}; solve ${t.solveMs.toFixed(0)} ms; plan id ${plan.id}`,
  ];
  return `${textTable(['layer', 'makespan', 'bound', 'gap', 'contiguous', 'vs contig', 'bubble', 'status', 'engine', 'ms'], rows)}\n\n${summary.join('\n')}\n`;
}
