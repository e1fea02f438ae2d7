// Which heads sit on which GPU: for one layer of a plan, a table with a row per GPU whose cells are
// the query heads it runs, each coloured by its KV group (a legend names the groups), beside the
// KV heads the GPU stores and what contiguous placement stores there. Cells carry data attributes
// (data-head, data-group, data-gpu) so that tests can read what is drawn.
import { contiguousKvHeadsPerGpu } from './plan-math.js';

/** Up to 12 KV groups: a qualitative palette; more (MHA models): evenly spaced hues, alternating lightness. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#86bcb6',
  '#d4a6c8',
];

/** The colour of KV group `k` of `groups` (a CSS colour, the same for every layer). */
function groupColour(k, groups) {
  if (groups <= PALETTE.length) return PALETTE[k];
  const hue = Math.round((360 * k) / groups);
  return `hsl(${hue} 60% ${k % 2 === 0 ? 62 : 76}%)`;
}

/** Query heads per KV group, and the query heads of each unit, for a plan of `model`. */
export function unitShape(plan, model) {
  const { queryHeads, kvHeads } = model.architecture;
  const groupSize = queryHeads / kvHeads;
  const perUnit = plan.granularity === 'kv-group' ? groupSize : 1;
  return {
    groupSize,
    kvHeads,
    /** [heads of unit u] */
    headsOf: (u) => Array.from({ length: perUnit }, (_, i) => u * perUnit + i),
    /** Units per KV group: 1 for KV-group units. */
    unitsPerGroup: plan.granularity === 'kv-group' ? 1 : groupSize,
  };
}

function cell(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** A head's cell: its number on its group's colour; a part of a split head is striped and says its rows. */
function headCell(head, group, gpu, groups, part) {
  const span = cell('span', String(head), {
    class: part ? 'head-cell part' : 'head-cell',
    'data-head': head,
    'data-group': group,
    'data-gpu': gpu,
    title: part
      ? `head ${head} (KV group ${group}): rows [${part.rows[0]}, ${part.rows[1]}) on GPU ${gpu}`
      : `head ${head} (KV group ${group}) on GPU ${gpu}`,
  });
  span.style.setProperty('--group', groupColour(group, groups));
  if (part) span.dataset.rows = `${part.rows[0]}-${part.rows[1]}`;
  return span;
}

/** The heads GPU `g` runs in `layer`: whole units, then its parts of split units. */
function gpuHeads(layer, g, shape) {
  const parts = (layer.parts ?? []).filter((p) => p.gpu === g);
  const parted = new Set((layer.parts ?? []).map((p) => p.unit));
  const whole = layer.gpu2units[g].filter((u) => !parted.has(u));
  return [
    ...whole.flatMap((u) => shape.headsOf(u).map((head) => ({ head, part: null }))),
    ...parts.flatMap((p) => shape.headsOf(p.unit).map((head) => ({ head, part: p }))),
  ];
}

/**
 * Draws layer `l` of `plan` (for the model summary `model`) into `table` (a <table> with a
 * caption, thead and tbody) and its group legend into `legend` (a <ul>).
 */
export function drawPlacement(table, legend, plan, model, l) {
  const layer = plan.layers[l];
  const shape = unitShape(plan, model);
  const gpus = plan.gpus.count;
  const contiguous = contiguousKvHeadsPerGpu(layer.unit2gpu.length, gpus, shape.unitsPerGroup);
  table.caption.textContent =
    `Layer ${layer.layer}: which query heads each GPU runs (${layer.kvHeadsStored ?? '?'} KV heads stored, ` +
    `contiguous placement ${contiguous.reduce((s, x) => s + x, 0)})`;
  table.dataset.layer = String(l);
  const rows = Array.from({ length: gpus }, (_, g) => {
    const heads = gpuHeads(layer, g, shape);
    const tr = document.createElement('tr');
    tr.dataset.gpu = String(g);
    const cells = cell('td', undefined, { class: 'heads-of-gpu' });
    cells.append(
      ...heads.map(({ head, part }) => headCell(head, Math.floor(head / shape.groupSize), g, shape.kvHeads, part)),
    );
    tr.append(
      cell('th', `GPU ${g}`, { scope: 'row' }),
      cells,
      cell('td', String(layer.kvHeadsPerGpu?.[g] ?? '?'), { class: 'kv-plan' }),
      cell('td', String(contiguous[g]), { class: 'kv-contiguous' }),
      cell('td', layer.makespan > 0 ? `${((100 * layer.gpuLoads[g]) / layer.makespan).toFixed(1)}%` : '0.0%', {
        class: 'load-share',
      }),
    );
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  legend.replaceChildren(
    ...Array.from({ length: shape.kvHeads }, (_, k) => {
      const first = k * shape.groupSize;
      const li = cell('li', undefined, { 'data-group': k });
      const swatch = cell('span', undefined, { class: 'swatch group' });
      swatch.style.setProperty('--group', groupColour(k, shape.kvHeads));
      const heads = shape.groupSize === 1 ? `head ${first}` : `heads ${first}–${first + shape.groupSize - 1}`;
      li.append(swatch, document.createTextNode(`KV group ${k} (${heads})`));
      return li;
    }),
  );
}

/** Fills the layer selector with the plan's layers and keeps `wanted` when it is one of them. */
export function fillLayerSelect(select, plan, wanted) {
  select.replaceChildren(
    ...plan.layers.map((layer, l) =>
      Object.assign(document.createElement('option'), { value: String(l), textContent: `layer ${layer.layer}` }),
    ),
  );
  const l = Number(wanted);
  select.value = Number.isInteger(l) && l >= 0 && l < plan.layers.length ? String(l) : '0';
  return Number(select.value);
}
