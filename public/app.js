// The plan page: pick a model, GPU count and granularity; fetch the plan from the public API
// (GET /v1/models/{modelId}/plan) and show its summary, load chart, bubble chart and layer table.
import { drawBubbles, drawLoads } from './charts.js';
import { chooseScale, percent, scaled, statusCounts, times } from './format.js';
import { bubbleRatio } from './plan-math.js';
import { setupReplan } from './replan.js';

// src/profiles/flagship.ts's FLAGSHIP_MODEL (the page test checks that they agree).
const FLAGSHIP = 'llama-3-8b-instruct-262k-minference';
const $ = (id) => document.getElementById(id);
const form = $('controls');
const fields = {
  model: $('model'),
  gpus: $('gpus'),
  granularity: $('granularity'),
  unitsPerGpu: $('unitsPerGpu'),
  splitHeads: $('splitHeads'),
};
const statusLine = $('status');
const planSection = $('plan');

/** id -> model summary from GET /v1/models. */
const models = new Map();
/** Answers to older requests are dropped: only the latest selection is shown. */
let latest = 0;
/** The plan on show and the selection it answers: what a re-plan starts from. */
let running = null;
/** The lookup's maxKvCacheFactor from the page's URL (null: the service's default). */
let kvCap = null;

function setStatus(state, message) {
  statusLine.dataset.state = state;
  statusLine.textContent = message;
  statusLine.classList.toggle('error', state === 'error');
}

/** "title: detail" of an application/problem+json answer, or the HTTP status when the body is not one. */
async function problemMessage(response) {
  try {
    const problem = await response.json();
    if (problem && typeof problem.detail === 'string')
      return `${problem.title ?? `HTTP ${response.status}`}: ${problem.detail}`;
  } catch {
    // not JSON: fall through to the status line
  }
  return `HTTP ${response.status} ${response.statusText}`;
}

/** Units of the chosen model at the chosen granularity, and the GPU counts that split them equally. */
function refreshGpuHint() {
  const model = models.get(fields.model.value);
  if (!model) return;
  const { queryHeads, kvHeads } = model.architecture;
  const units = fields.granularity.value === 'kv-group' ? kvHeads : queryHeads;
  const name = fields.granularity.value === 'kv-group' ? 'KV groups' : 'query heads';
  const divisors = [];
  for (let g = 1; g <= units; g++) if (units % g === 0) divisors.push(g);
  $('gpu-counts').replaceChildren(
    ...divisors.map((g) => Object.assign(document.createElement('option'), { value: String(g) })),
  );
  $('gpus-hint').textContent = `${units} ${name}: equal split on ${divisors.join(', ')}`;
}

function selection() {
  return {
    model: fields.model.value,
    gpus: fields.gpus.value,
    granularity: fields.granularity.value,
    unitsPerGpu: fields.unitsPerGpu.value,
    splitHeads: fields.splitHeads.value || '0',
    // Carried from the page's URL (no field yet): the lookup's KV-cache cap, e.g. 1.5 or unlimited.
    maxKvCacheFactor: kvCap,
  };
}

async function loadPlan() {
  const chosen = selection();
  const model = models.get(chosen.model);
  if (!model || !form.reportValidity()) return;
  const request = ++latest;
  const query = new URLSearchParams({
    gpus: chosen.gpus,
    granularity: chosen.granularity,
    unitsPerGpu: chosen.unitsPerGpu,
  });
  // Without splits the URL stays what it always was (and hits the same cached plan).
  if (Number(chosen.splitHeads) > 0) query.set('splitHeads', chosen.splitHeads);
  if (chosen.maxKvCacheFactor) query.set('maxKvCacheFactor', chosen.maxKvCacheFactor);
  history.replaceState(null, '', `?${new URLSearchParams({ model: chosen.model, ...Object.fromEntries(query) })}`);
  planSection.setAttribute('aria-busy', 'true');
  $('show').disabled = true;
  setStatus(
    'loading',
    `Solving the plan for ${model.displayName} on ${chosen.gpus} GPUs… (the first lookup solves it; later ones come from the service's cache)`,
  );
  try {
    const response = await fetch(`/v1/models/${encodeURIComponent(chosen.model)}/plan?${query}`, {
      headers: { Accept: 'application/json' },
    });
    if (request !== latest) return;
    if (!response.ok) {
      planSection.hidden = true;
      setStatus('error', await problemMessage(response));
      return;
    }
    const plan = await response.json();
    if (request !== latest) return;
    render(plan, model);
    running = { plan, selection: chosen };
    replan.reset();
    const cache = response.headers.get('X-Cache');
    setStatus('ready', `Plan for ${model.displayName} on ${plan.gpus.count} GPUs${cache ? ` (cache ${cache})` : ''}.`);
  } catch (error) {
    if (request !== latest) return;
    planSection.hidden = true;
    setStatus('error', `Could not reach the service: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    if (request === latest) {
      planSection.removeAttribute('aria-busy');
      $('show').disabled = false;
    }
  }
}

/** A dd's content: the number, then its unit in a smaller span. */
function setValue(id, value, unit = '') {
  const unitSpan = Object.assign(document.createElement('span'), {
    className: 'unit',
    textContent: unit ? ` ${unit}` : '',
  });
  $(id).replaceChildren(document.createTextNode(value), unitSpan);
}

function render(plan, model) {
  const t = plan.totals;
  const scale = chooseScale(
    Math.max(...plan.layers.map((l) => Math.max(l.makespan, l.contiguousMakespan ?? 0))),
    plan.costModel.unit,
  );
  const worstGap = Math.max(...plan.layers.map((l) => l.gap));
  const unitName = plan.granularity === 'kv-group' ? 'KV groups' : 'query heads';
  $('plan-heading').textContent =
    `${model.displayName}: ${plan.gpus.count} GPUs, ${unitName}, ${plan.unitsPerGpu} units per GPU`;
  // Times relative to contiguous placement: the cost unit is hardware-neutral work (MAC) unless a
  // calibration names its device, and either way the ratio is what carries over to a GPU.
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
  $('plan-meta').textContent =
    `${plan.workload.phase} at ${plan.workload.seqLen} tokens · cost model ${plan.costModel.name} (${plan.costModel.unit}` +
    `${plan.costModel.device ? `, measured on ${plan.costModel.device}` : ', hardware-neutral'})` +
    ` · engine ${plan.solver.engine} · solved in ${t.solveMs.toFixed(0)} ms · plan ${plan.id}`;
  $('loads-caption').textContent =
    `Per-GPU load of every layer (${scale.label}): ${plan.gpus.count} bars per layer, one per GPU`;
  drawLoads($('loads-chart'), plan, scale);
  drawBubbles($('bubbles-chart'), plan);
  renderTable(plan, scale);
  planSection.hidden = false;
}

/** Model-wide bubble of contiguous placement: 1 - (sum of mean loads) / (sum of contiguous makespans). */
function contiguousBubble(plan) {
  const meanLoads = plan.layers.reduce((s, l) => s + l.gpuLoads.reduce((a, b) => a + b, 0) / l.gpuLoads.length, 0);
  return bubbleRatio(meanLoads, plan.totals.contiguousMakespan);
}

function renderTable(plan, scale) {
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

async function start() {
  setStatus('loading', 'Loading the model list…');
  let list;
  try {
    const response = await fetch('/v1/models', { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(await problemMessage(response));
    list = (await response.json()).models;
  } catch (error) {
    setStatus('error', `Could not load the models: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  for (const model of list) models.set(model.id, model);
  fields.model.replaceChildren(
    ...list.map((m) =>
      Object.assign(document.createElement('option'), {
        value: m.id,
        textContent: `${m.displayName} (${m.architecture.layers} layers × ${m.architecture.queryHeads} heads)`,
      }),
    ),
  );
  const params = new URLSearchParams(location.search);
  const wanted = params.get('model');
  fields.model.value = models.has(wanted) ? wanted : models.has(FLAGSHIP) ? FLAGSHIP : (list[0]?.id ?? '');
  for (const key of ['gpus', 'granularity', 'unitsPerGpu', 'splitHeads'])
    if (params.has(key)) fields[key].value = params.get(key);
  kvCap = params.get('maxKvCacheFactor');
  fields.model.disabled = false;
  $('show').disabled = false;
  refreshGpuHint();
  setStatus('idle', '');
  await loadPlan();
}

const replan = setupReplan(() => running, problemMessage);
form.addEventListener('submit', (event) => {
  event.preventDefault();
  loadPlan();
});
fields.model.addEventListener('change', refreshGpuHint);
fields.granularity.addEventListener('change', refreshGpuHint);
start();
