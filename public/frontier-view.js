// The frontier of the model on show (GET /v1/models/{modelId}/frontier with the plan's parameters):
// S-HPLB's speedup at each KV-cache cap, drawn with the cap on show marked, and listed in a table.
import { capLabel, drawFrontier } from './kv-charts.js';
import { times } from './format.js';

const $ = (id) => document.getElementById(id);

function renderTable(points, layers) {
  const rows = points.map((p) => {
    const tr = document.createElement('tr');
    tr.dataset.cap = p.maxKvCacheFactor === null ? 'unlimited' : String(p.maxKvCacheFactor);
    const cells = [
      capLabel(p.maxKvCacheFactor),
      p.kvCacheFactor.toFixed(3),
      p.speedupVsContiguous === null ? 'n/a' : times(p.speedupVsContiguous),
      `${p.layersProven} of ${layers}`,
    ];
    tr.append(...cells.map((text) => Object.assign(document.createElement('td'), { textContent: text })));
    return tr;
  });
  $('frontier-table').tBodies[0].replaceChildren(...rows);
}

/**
 * Wires the frontier view. `problemMessage(response)` turns an error answer into words. Returns
 * load(selection, plan): fetches and draws the frontier of the plan on show; a newer call wins.
 */
export function setupFrontier(problemMessage) {
  const status = $('frontier-status');
  let latest = 0;
  return async function load(selection, plan) {
    const request = ++latest;
    const query = new URLSearchParams({
      gpus: selection.gpus,
      granularity: selection.granularity,
      unitsPerGpu: selection.unitsPerGpu,
      seqLen: selection.seqLen,
      phase: selection.phase,
    });
    status.dataset.state = 'loading';
    status.textContent = 'Solving the plan at each KV-cache cap… (later lookups come from the service’s cache)';
    $('frontier-figure').hidden = true;
    try {
      const response = await fetch(`/v1/models/${encodeURIComponent(selection.model)}/frontier?${query}`, {
        headers: { Accept: 'application/json' },
      });
      if (request !== latest) return;
      if (!response.ok) {
        status.dataset.state = 'error';
        status.textContent = await problemMessage(response);
        return;
      }
      const answer = await response.json();
      if (request !== latest) return;
      const { points } = answer;
      drawFrontier($('frontier-chart'), points, plan.maxKvCacheFactor, {
        kvCacheFactor: plan.totals.kvCacheFactor,
        speedupVsContiguous: plan.totals.speedupVsContiguous,
      });
      renderTable(points, plan.layers.length);
      $('frontier-figure').hidden = false;
      status.dataset.state = 'ready';
      status.textContent = '';
    } catch (error) {
      if (request !== latest) return;
      status.dataset.state = 'error';
      status.textContent = `Could not reach the service: ${error instanceof Error ? error.message : String(error)}`;
    }
  };
}
