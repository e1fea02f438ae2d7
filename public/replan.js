// Re-plan view: re-plans the plan on show (the running one) for another workload through the
// lookup (GET /v1/models/{modelId}/plan?previous=<planId>), and draws every head of every layer
// coloured by its new GPU, with the heads that move outlined.
import { percent, times } from './format.js';

const $ = (id) => document.getElementById(id);

/** "12.3 GiB" / "512 MiB". */
function bytes(n) {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}

/**
 * Wires the re-plan form. `running()` gives { plan, selection } of the plan on show, or null.
 * `problemMessage(response)` turns an error answer into words.
 */
export function setupReplan(running, problemMessage) {
  const form = $('replan-controls');
  const status = $('replan-status');
  let latest = 0;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const current = running();
    if (!current || !form.reportValidity()) return;
    const request = ++latest;
    const { plan, selection } = current;
    const query = new URLSearchParams({
      gpus: selection.gpus,
      granularity: selection.granularity,
      unitsPerGpu: selection.unitsPerGpu,
      maxKvCacheFactor: selection.maxKvCacheFactor,
      seqLen: $('replan-seqLen').value,
      phase: $('replan-phase').value,
      previous: plan.id,
      makespanTolerance: String(Number($('replan-tolerance').value) / 100),
    });
    $('replan-show').disabled = true;
    status.textContent = 'Re-planning against the plan on show…';
    try {
      const response = await fetch(`/v1/models/${encodeURIComponent(selection.model)}/plan?${query}`, {
        headers: { Accept: 'application/json' },
      });
      if (request !== latest) return;
      if (!response.ok) {
        $('replan-result').hidden = true;
        status.textContent = await problemMessage(response);
        return;
      }
      const replan = await response.json();
      if (request !== latest) return;
      renderReplan(replan);
      status.textContent = '';
    } catch (error) {
      status.textContent = `Could not reach the service: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      if (request === latest) $('replan-show').disabled = false;
    }
  });
  return {
    reset: () => {
      latest++;
      $('replan-result').hidden = true;
      status.textContent = '';
    },
  };
}

function renderReplan(replan) {
  const m = replan.migration;
  const t = m.totals;
  const cost = m.moveCostUnit === 'bytes' ? bytes(t.moveCost) : `${t.moveCost} ${m.moveCostUnit}`;
  $('replan-summary').textContent =
    `${t.movedUnits} of ${replan.layers.length * replan.layers[0].unit2gpu.length} heads move (${cost}) in ${t.rounds} transfer rounds; ` +
    `${t.layersChanged} layers change; makespan ${times(t.makespanVsOptimal)} the fresh optimum (tolerance ${percent(m.makespanTolerance)}); ` +
    `move count proven minimal on ${t.layersMovesProven} of ${replan.layers.length} layers.`;
  const hue = (g) => Math.round((360 * g) / replan.gpus.count);
  const rows = replan.layers.map((layer) => {
    const moved = new Map(layer.migration.moves.map((mv) => [mv.unit, mv]));
    const row = document.createElement('div');
    row.className = 'head-row';
    row.append(
      Object.assign(document.createElement('span'), { className: 'head-layer', textContent: String(layer.layer) }),
    );
    layer.unit2gpu.forEach((gpu, unit) => {
      const move = moved.get(unit);
      const cell = document.createElement('span');
      cell.className = move ? 'head moved' : 'head';
      cell.style.background = `hsl(${hue(gpu)} 55% 70%)`;
      cell.title = move
        ? `layer ${layer.layer} head ${unit}: GPU ${move.from} → ${move.to} (round ${move.round})`
        : `layer ${layer.layer} head ${unit}: GPU ${gpu}`;
      row.append(cell);
    });
    return row;
  });
  $('replan-heads').replaceChildren(...rows);
  $('replan-result').hidden = false;
}
