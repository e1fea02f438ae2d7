// The plan's summary (attention time against contiguous placement, KV cache against contiguous
// placement's, proofs) and its per-layer table.
import { percent, scaled, statusCounts, times } from './format.js';
import { bubbleRatio } from './plan-math.js';

const $ = (id) => document.getElementById(id);

/** A dd's content: the number, then its unit in a smaller span. */
function setValue(id, value, unit = '') {
  const unitSpan = Object.assign(document.createElement('span'), {
    className: 'unit',
    textContent: unit ? ` ${unit}` : '',
  });
  $(id).replaceChildren(document.createTextNode(value), unitSpan);
}

/** "2.00 GiB" per sequence. */
function gib(bytes) {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** Model-wide bubble of contiguous placement: 1 - (sum of mean loads) / (sum of contiguous makespans). */
function contiguousBubble(plan) {
  const meanLoads = plan.layers.reduce((s, l) => s + l.gpuLoads.reduce((a, b) => a + b, 0) / l.gpuLoads.length, 0);
  return bubbleRatio(meanLoads, plan.totals.contiguousMakespan);
}

/** Attention time, speedup, greedy and bubble against contiguous placement. */
function renderTimes(plan, scale) {
  const t = plan.totals;
  // Times relative to contiguous placement: the cost unit is hardware-neutral work (MAC) or a
  // device's microseconds, and either way the ratio is what carries over to a GPU.
  if (t.contiguousMakespan === null) setValue('makespan', scaled(t.makespan, scale), scale.label);
  else
    setValue(
      'makespan',
      (t.makespan / t.contiguousMakespan).toFixed(3),
      `of contiguous (${scaled(t.makespan, scale)} ${scale.label})`,
    );
  if (t.contiguousMakespan === null) setValue('contiguous', 'breaks a constraint');
  else setValue('contiguous', '1.000', `(${scaled(t.contiguousMakespan, scale)} ${scale.label})`);
  setValue('speedup', t.speedupVsContiguous === null ? 'n/a' : times(t.speedupVsContiguous));
  if (t.greedyMakespan === null) setValue('greedy', 'no feasible placement');
  else
    setValue(
      'greedy',
      scaled(t.greedyMakespan, scale),
      `${scale.label} (${times(t.greedyMakespan / t.makespan)} this plan)`,
    );
  setValue(
    'bubble',
    percent(t.bubbleRatio),
    `contiguous ${t.contiguousMakespan === null ? 'n/a' : percent(contiguousBubble(plan))}`,
  );
}

/** KV-cache factor against the cap, and the largest per-GPU KV cache against contiguous placement's. */
function renderKv(plan) {
  const t = plan.totals;
  const cap = plan.maxKvCacheFactor === null ? 'no cap' : `cap ${plan.maxKvCacheFactor}`;
  setValue('kv-factor', t.kvCacheFactor.toFixed(3), `× contiguous (${cap}; ${t.kvHeadsStored} KV heads stored)`);
  if (t.kvBytesPerGpuMax === null) setValue('kv-bytes', 'n/a');
  else
    setValue(
      'kv-bytes',
      gib(t.kvBytesPerGpuMax),
      `per sequence; contiguous ${t.contiguousKvBytesPerGpuMax === null ? 'n/a' : gib(t.contiguousKvBytesPerGpuMax)}`,
    );
}

/** Fills the summary from `plan`, in `scale` (chooseScale of the plan's makespans). */
export function renderSummary(plan, scale) {
  const t = plan.totals;
  const worstGap = Math.max(...plan.layers.map((l) => l.gap));
  renderTimes(plan, scale);
  renderKv(plan);
  setValue('proven', String(t.layersProvenOptimal), `of ${plan.layers.length}`);
  setValue('statuses', statusCounts(plan.layers));
  setValue('gap', percent(t.gap, 4), `worst layer ${percent(worstGap, 4)}`);
  if (t.splitHeads === undefined) setValue('split-heads', 'off');
  else
    setValue(
      'split-heads',
      String(t.splitHeads),
      `at most ${plan.splits.maxSplitHeads} per layer; plan ${times(t.makespan / t.fluidBound)} the fluid bound`,
    );
  const workload =
    'mix' in plan.workload
      ? plan.workload.mix.map((p) => `${p.weight} × ${p.phase} at ${p.seqLen}`).join(' + ')
      : `${plan.workload.phase} at ${plan.workload.seqLen} tokens`;
  $('plan-meta').textContent =
    `${workload} · cost model ${plan.costModel.name} (${plan.costModel.unit}` +
    `${plan.costModel.device ? `, ${plan.costModel.device}` : ', hardware-neutral'})` +
    ` · engine ${plan.solver.engine} · solved in ${t.solveMs.toFixed(0)} ms · plan ${plan.id}`;
  $('plan-warnings').replaceChildren(
    ...(plan.warnings ?? []).map((w) => Object.assign(document.createElement('li'), { textContent: w.message })),
  );
}

/** The per-layer table. */
export function renderTable(plan, scale) {
  const rows = plan.layers.map((layer) => {
    const mean = layer.gpuLoads.reduce((s, x) => s + x, 0) / layer.gpuLoads.length;
    const cells = [
      String(layer.layer),
      scaled(layer.makespan, scale),
      layer.contiguousMakespan === null ? 'n/a' : scaled(layer.contiguousMakespan, scale),
      scaled(layer.lowerBound, scale),
      percent(layer.gap, 4),
      layer.status,
      layer.engine,
      percent(bubbleRatio(mean, layer.makespan)),
      String(layer.kvHeadsStored ?? ''),
      layer.splitHeads === undefined ? '' : String(layer.splitHeads),
    ];
    const tr = document.createElement('tr');
    cells.forEach((text, i) =>
      tr.append(
        Object.assign(
          document.createElement(i === 0 ? 'th' : 'td'),
          i === 0 ? { scope: 'row', textContent: text } : { textContent: text },
        ),
      ),
    );
    return tr;
  });
  $('layers-table').tBodies[0].replaceChildren(...rows);
}
