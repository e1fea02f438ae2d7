// The plan page: pick a model, GPU count, workload and KV-cache cap; fetch the plan from the public
// API (GET /v1/models/{modelId}/plan) and show which heads sit on which GPU (per layer), the KV
// heads each GPU stores beside contiguous placement's, the frontier of speedup against KV cache,
// the load and bubble charts and the layer table. Every control is in the URL (url-state.js).
import { drawBubbles, drawLoads } from './charts.js';
import { chooseScale } from './format.js';
import { setupFrontier } from './frontier-view.js';
import { drawKvPerGpu } from './kv-charts.js';
import { drawPlacement, fillLayerSelect, unitShape } from './placement.js';
import { setupReplan } from './replan.js';
import { renderSummary, renderTable } from './summary.js';
import { readUrl, URL_PARAMS, writeUrl } from './url-state.js';

// src/profiles/flagship.ts's FLAGSHIP_MODEL (the page test checks that they agree).
const FLAGSHIP = 'llama-3-8b-instruct-262k-minference';
const $ = (id) => document.getElementById(id);
const form = $('controls');
/** Every control that is a URL parameter, by parameter name (the control's id). */
const fields = Object.fromEntries(URL_PARAMS.map((name) => [name, $(name)]));
const statusLine = $('status');
const planSection = $('plan');

/** id -> model summary from GET /v1/models. */
const models = new Map();
/** Answers to older requests are dropped: only the latest selection is shown. */
let latest = 0;
/** The plan on show, its model and the selection it answers: what a re-plan starts from. */
let running = null;
/** The URL's layer, until the first plan has that many layers to choose from. */
let wantedLayer = null;

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
  $('gpus-hint').textContent = `${units} ${name} in ${kvHeads} KV groups: equal split on ${divisors.join(', ')} GPUs`;
}

function selection() {
  return {
    model: fields.model.value,
    gpus: fields.gpus.value,
    granularity: fields.granularity.value,
    unitsPerGpu: fields.unitsPerGpu.value,
    phase: fields.phase.value,
    seqLen: fields.seqLen.value,
    maxKvCacheFactor: fields.maxKvCacheFactor.value.trim(),
    splitHeads: fields.splitHeads.value || '0',
  };
}

/** The lookup's query for a selection (splitHeads only when on, so plain URLs hit the same cached plan). */
function lookupQuery(chosen) {
  const query = new URLSearchParams({
    gpus: chosen.gpus,
    granularity: chosen.granularity,
    unitsPerGpu: chosen.unitsPerGpu,
    seqLen: chosen.seqLen,
    phase: chosen.phase,
    maxKvCacheFactor: chosen.maxKvCacheFactor,
  });
  if (Number(chosen.splitHeads) > 0) query.set('splitHeads', chosen.splitHeads);
  return query;
}

async function loadPlan() {
  const chosen = selection();
  const model = models.get(chosen.model);
  if (!model || !form.reportValidity()) return;
  const request = ++latest;
  writeUrl(fields);
  planSection.setAttribute('aria-busy', 'true');
  $('show').disabled = true;
  setStatus(
    'loading',
    `Solving the plan for ${model.displayName} on ${chosen.gpus} GPUs… (the first lookup solves it; later ones come from the service's cache)`,
  );
  try {
    const response = await fetch(`/v1/models/${encodeURIComponent(chosen.model)}/plan?${lookupQuery(chosen)}`, {
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
    running = { plan, model, selection: chosen };
    render(plan, model);
    replan.reset();
    loadFrontier(chosen, plan);
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

/** Draws the chosen layer's heads on their GPUs. */
function showLayer() {
  if (!running) return;
  drawPlacement($('placement'), $('group-legend'), running.plan, running.model, Number(fields.layer.value));
}

function render(plan, model) {
  const scale = chooseScale(
    Math.max(...plan.layers.map((l) => Math.max(l.makespan, l.contiguousMakespan ?? 0))),
    plan.costModel.unit,
  );
  const unitName = plan.granularity === 'kv-group' ? 'KV groups' : 'query heads';
  $('plan-heading').textContent =
    `${model.displayName}: ${plan.gpus.count} GPUs, ${unitName}, ${plan.unitsPerGpu} units per GPU`;
  renderSummary(plan, scale);
  fillLayerSelect(fields.layer, plan, wantedLayer ?? fields.layer.value);
  wantedLayer = null;
  writeUrl(fields);
  showLayer();
  drawKvPerGpu($('kv-chart'), plan, unitShape(plan, model).unitsPerGroup);
  $('loads-caption').textContent =
    `Per-GPU load of every layer (${scale.label}): ${plan.gpus.count} bars per layer, one per GPU`;
  drawLoads($('loads-chart'), plan, scale);
  drawBubbles($('bubbles-chart'), plan);
  renderTable(plan, scale);
  planSection.hidden = false;
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
        textContent: `${m.displayName} (${m.architecture.layers} layers × ${m.architecture.queryHeads} heads, ${m.architecture.kvHeads} KV)`,
      }),
    ),
  );
  const params = readUrl(fields);
  const wanted = params.get('model');
  wantedLayer = params.get('layer');
  fields.model.value = models.has(wanted) ? wanted : models.has(FLAGSHIP) ? FLAGSHIP : (list[0]?.id ?? '');
  fields.model.disabled = false;
  $('show').disabled = false;
  refreshGpuHint();
  setStatus('idle', '');
  await loadPlan();
}

const replan = setupReplan(() => running, problemMessage);
const loadFrontier = setupFrontier(problemMessage);
form.addEventListener('submit', (event) => {
  event.preventDefault();
  loadPlan();
});
// A control's new value goes to the URL at once; the plan follows on "Show plan" (the layer at once).
form.addEventListener('input', () => writeUrl(fields));
form.addEventListener('change', () => writeUrl(fields));
fields.model.addEventListener('change', refreshGpuHint);
fields.granularity.addEventListener('change', refreshGpuHint);
fields.layer.addEventListener('change', () => {
  writeUrl(fields);
  showLayer();
});
start();
