// What a plan costs in KV cache: the KV heads each GPU stores over all layers beside contiguous
// placement's, and the frontier (prefill speedup against the KV-cache factor, one point per cap
// tried) with the cap on show marked. Marks carry data attributes for the tests.
import { el, frame, titled, WIDTH, yAxis } from './charts.js';
import { times } from './format.js';
import { contiguousKvHeadsPerGpu, niceRange, niceStep, stepDigits } from './plan-math.js';

/**
 * [gpus] KV heads stored by each GPU summed over the plan's layers, and the same for contiguous
 * placement (`unitsPerGroup`: units per KV group, 1 for KV-group units).
 */
function kvHeadsPerGpuTotals(plan, unitsPerGroup) {
  const gpus = plan.gpus.count;
  const planned = new Array(gpus).fill(0);
  for (const layer of plan.layers) {
    layer.kvHeadsPerGpu.forEach((n, g) => {
      planned[g] += n;
    });
  }
  // Every layer places the same units, so contiguous placement stores the same KV heads in each.
  const perLayer = contiguousKvHeadsPerGpu(plan.layers[0].unit2gpu.length, gpus, unitsPerGroup);
  return { planned, contiguous: perLayer.map((n) => n * plan.layers.length) };
}

/** Two bars per GPU: the KV heads it stores over all layers in this plan and under contiguous placement. */
export function drawKvPerGpu(container, plan, unitsPerGroup) {
  const { planned, contiguous } = kvHeadsPerGpuTotals(plan, unitsPerGroup);
  const gpus = planned.length;
  const height = 200;
  const box = { left: 70, right: WIDTH - 12, top: 10, bottom: height - 40 };
  box.height = box.bottom - box.top;
  const highest = Math.max(1, ...planned, ...contiguous);
  const step = niceStep(highest, 4);
  const yMax = Math.ceil(highest / step - 1e-9) * step;
  const y = (v) => box.bottom - (v / yMax) * box.height;
  const svg = frame(
    height,
    `KV heads stored per GPU over ${plan.layers.length} layers: this plan and contiguous placement`,
  );
  svg.dataset.gpus = String(gpus);
  yAxis(svg, box, yMax, step, (v, d) => v.toFixed(d), 'KV heads (all layers)');
  const groupWidth = (box.right - box.left) / gpus;
  const barWidth = Math.min(40, (groupWidth * 0.7) / 2);
  for (let g = 0; g < gpus; g++) {
    const x = box.left + g * groupWidth + groupWidth / 2 - barWidth;
    const bar = (cls, x0, value, tip) =>
      titled(
        el('rect', {
          class: cls,
          x: x0,
          y: y(value),
          width: barWidth,
          height: box.bottom - y(value),
          'data-gpu': g,
          'data-value': value,
        }),
        tip,
      );
    svg.append(bar('kv-plan', x, planned[g], `GPU ${g}: ${planned[g]} KV heads stored over all layers in this plan`));
    svg.append(
      bar(
        'kv-contiguous',
        x + barWidth,
        contiguous[g],
        `GPU ${g}: ${contiguous[g]} KV heads under contiguous placement`,
      ),
    );
    svg.append(el('text', { class: 'tick', x: x + barWidth, y: box.bottom + 16, 'text-anchor': 'middle' }, `GPU ${g}`));
  }
  svg.append(el('line', { class: 'axis', x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom }));
  container.replaceChildren(svg);
}

/** "cap 1.25" or "no cap" for a frontier point's cap. */
export const capLabel = (cap) => (cap === null ? 'no cap' : `cap ${cap}`);

/** Grid, tick labels and titles of the frontier chart. */
function frontierAxes(svg, box, xa, ya, x, y) {
  for (let v = ya.lo; v <= ya.hi + ya.step * 1e-9; v += ya.step) {
    svg.append(el('line', { class: 'grid', x1: box.left, x2: box.right, y1: y(v), y2: y(v) }));
    const label = `${v.toFixed(stepDigits(ya.step))}×`;
    svg.append(el('text', { class: 'tick', x: box.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, label));
  }
  for (let v = xa.lo; v <= xa.hi + xa.step * 1e-9; v += xa.step) {
    const label = v.toFixed(stepDigits(xa.step));
    svg.append(el('text', { class: 'tick', x: x(v), y: box.bottom + 16, 'text-anchor': 'middle' }, label));
  }
  svg.append(el('line', { class: 'axis', x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom }));
  const title = "KV-cache factor (KV heads stored / contiguous placement's)";
  const mid = (box.left + box.right) / 2;
  svg.append(el('text', { class: 'axis-title', x: mid, y: box.bottom + 34, 'text-anchor': 'middle' }, title));
}

/** The cap on show: a dashed line at its factor (at the right edge for no cap). */
function capMark(svg, box, x, xa, cap) {
  const capX = x(cap === null ? xa.hi : Math.min(cap, xa.hi));
  const attrs = { class: 'cap-line', x1: capX, x2: capX, y1: box.top, y2: box.bottom, 'data-cap': cap ?? 'unlimited' };
  svg.append(el('line', attrs));
  const label = cap === null ? 'no cap (on show)' : `cap ${cap} (on show)`;
  svg.append(el('text', { class: 'cap-label', x: capX - 4, y: box.top + 12, 'text-anchor': 'end' }, label));
}

/** A step line through the Pareto points (by factor) and a circle per point. */
function frontierMarks(svg, usable, x, y) {
  const front = usable.filter((p) => p.pareto !== false).sort((a, b) => a.kvCacheFactor - b.kvCacheFactor);
  const steps = front.flatMap((p, i) => [
    ...(i > 0 ? [[x(p.kvCacheFactor), y(front[i - 1].speedupVsContiguous)]] : []),
    [x(p.kvCacheFactor), y(p.speedupVsContiguous)],
  ]);
  if (steps.length > 1)
    svg.append(el('polyline', { class: 'front', points: steps.map(([a, b]) => `${a},${b}`).join(' ') }));
  for (const p of usable) {
    const tip = `${capLabel(p.maxKvCacheFactor)}: KV-cache factor ${p.kvCacheFactor.toFixed(3)}, ${times(p.speedupVsContiguous)} vs contiguous, ${p.layersProven} layers proven`;
    const circle = el('circle', {
      class: p.pareto === false ? 'point off-front' : 'point',
      cx: x(p.kvCacheFactor),
      cy: y(p.speedupVsContiguous),
      r: 4.5,
      'data-cap': p.maxKvCacheFactor ?? 'unlimited',
      'data-factor': p.kvCacheFactor,
      'data-speedup': p.speedupVsContiguous,
    });
    svg.append(titled(circle, tip));
  }
}

/**
 * The frontier: a point per cap tried at (KV-cache factor reached, speedup vs contiguous), a step
 * line through the Pareto points, a dashed line at the cap on show (`cap`, null: none) and the plan
 * on show (`current`: its factor and speedup) ringed.
 */
export function drawFrontier(container, points, cap, current) {
  const height = 300;
  const box = { left: 70, right: WIDTH - 24, top: 16, bottom: height - 44 };
  const usable = points.filter((p) => p.speedupVsContiguous !== null);
  const xa = niceRange([1, ...usable.map((p) => p.kvCacheFactor), current.kvCacheFactor], 0.5);
  const ya = niceRange([1, ...usable.map((p) => p.speedupVsContiguous), current.speedupVsContiguous ?? 1], 0.1);
  const x = (v) => box.left + ((v - xa.lo) / (xa.hi - xa.lo)) * (box.right - box.left);
  const y = (v) => box.bottom - ((v - ya.lo) / (ya.hi - ya.lo)) * (box.bottom - box.top);
  const svg = frame(height, `Prefill speedup against the KV-cache factor, ${points.length} caps`);
  svg.dataset.points = String(points.length);
  frontierAxes(svg, box, xa, ya, x, y);
  capMark(svg, box, x, xa, cap);
  frontierMarks(svg, usable, x, y);
  if (current.speedupVsContiguous !== null) {
    const ring = el('circle', {
      class: 'current',
      cx: x(current.kvCacheFactor),
      cy: y(current.speedupVsContiguous),
      r: 8,
    });
    const tip = `the plan on show: KV-cache factor ${current.kvCacheFactor.toFixed(3)}, ${times(current.speedupVsContiguous)}`;
    svg.append(titled(ring, tip));
  }
  container.replaceChildren(svg);
}
