// SVG charts of a plan, drawn with DOM calls (no library). Each chart carries data attributes
// (data-layers, data-gpus; data-layer / data-gpu on its marks) so that tests can count what is drawn.
import { percent, scaled } from './format.js';
import { bubbleRatio, niceStep, stepDigits } from './plan-math.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
export const WIDTH = 1100;

export function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A mark with a hover tooltip. */
export function titled(node, tip) {
  node.append(el('title', {}, tip));
  return node;
}

export function frame(height, label) {
  return el('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: 'img',
    'aria-label': label,
    preserveAspectRatio: 'xMinYMin meet',
  });
}

/** Horizontal grid lines with labels from 0 to yMax. */
export function yAxis(svg, box, yMax, step, format, title) {
  const digits = stepDigits(step);
  for (let tick = 0; tick <= yMax + step * 1e-9; tick += step) {
    const y = box.bottom - (tick / yMax) * box.height;
    svg.append(el('line', { class: 'grid', x1: box.left, x2: box.right, y1: y, y2: y }));
    svg.append(el('text', { class: 'tick', x: box.left - 6, y: y + 4, 'text-anchor': 'end' }, format(tick, digits)));
  }
  const mid = box.bottom - box.height / 2;
  svg.append(
    el(
      'text',
      { class: 'axis-title', x: 14, y: mid, 'text-anchor': 'middle', transform: `rotate(-90 14 ${mid})` },
      title,
    ),
  );
}

/** Layer numbers under the groups, about 16 of them whatever the model's depth. */
function xAxis(svg, box, layers, title) {
  const every = Math.max(1, Math.ceil(layers / 16));
  const groupWidth = (box.right - box.left) / layers;
  for (let layer = 0; layer < layers; layer++) {
    if (layer % every !== 0 && layer !== layers - 1) continue;
    svg.append(
      el(
        'text',
        { class: 'tick', x: box.left + (layer + 0.5) * groupWidth, y: box.bottom + 16, 'text-anchor': 'middle' },
        String(layer),
      ),
    );
  }
  svg.append(el('line', { class: 'axis', x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom }));
  svg.append(
    el(
      'text',
      { class: 'axis-title', x: (box.left + box.right) / 2, y: box.bottom + 34, 'text-anchor': 'middle' },
      title,
    ),
  );
}

/**
 * Per-GPU load of each layer: one bar per GPU (work), the wait up to the layer's makespan above
 * it, the makespan as a solid line and the contiguous makespan as a dashed one.
 */
export function drawLoads(container, plan, scale) {
  const layers = plan.layers.length;
  const gpus = plan.gpus.count;
  const height = 320;
  const box = { left: 70, right: WIDTH - 12, top: 12, bottom: height - 44 };
  box.height = box.bottom - box.top;
  const highest = Math.max(...plan.layers.map((l) => Math.max(l.makespan, l.contiguousMakespan ?? 0))) / scale.factor;
  const step = niceStep(highest);
  const yMax = Math.ceil(highest / step - 1e-9) * step || 1;
  const y = (value) => box.bottom - (value / scale.factor / yMax) * box.height;
  const svg = frame(
    height,
    `Per-GPU load of each of ${layers} layers on ${gpus} GPUs, in ${scale.label}, with each layer's makespan`,
  );
  svg.dataset.layers = String(layers);
  svg.dataset.gpus = String(gpus);
  yAxis(svg, box, yMax, step, (v, d) => v.toFixed(d), `GPU load (${scale.label})`);

  const groupWidth = (box.right - box.left) / layers;
  const pad = Math.min(groupWidth * 0.1, 4);
  const barWidth = (groupWidth - 2 * pad) / gpus;
  plan.layers.forEach((layer, l) => {
    const x0 = box.left + l * groupWidth + pad;
    layer.gpuLoads.forEach((load, g) => {
      const x = x0 + g * barWidth;
      const width = Math.max(0.4, barWidth - (barWidth > 3 ? 0.8 : 0.2));
      if (layer.makespan > load) {
        svg.append(el('rect', { class: 'wait', x, y: y(layer.makespan), width, height: y(load) - y(layer.makespan) }));
      }
      const bar = el('rect', {
        class: 'load',
        x,
        y: y(load),
        width,
        height: box.bottom - y(load),
        'data-layer': l,
        'data-gpu': g,
      });
      svg.append(
        titled(
          bar,
          `layer ${layer.layer}, GPU ${g}: ${scaled(load, scale)} ${scale.label} (${percent(layer.makespan > 0 ? load / layer.makespan : 0)} of the makespan)`,
        ),
      );
    });
    drawParts(
      svg,
      layer,
      l,
      (g) => x0 + g * barWidth + Math.max(0.4, barWidth - (barWidth > 3 ? 0.8 : 0.2)) / 2,
      y,
      scale,
      plan.gpus.speeds,
    );
    const x1 = x0;
    const x2 = x0 + gpus * barWidth;
    if (layer.contiguousMakespan !== null && layer.contiguousMakespan !== undefined) {
      svg.append(
        titled(
          el('line', {
            class: 'contiguous',
            x1,
            x2,
            y1: y(layer.contiguousMakespan),
            y2: y(layer.contiguousMakespan),
            'data-layer': l,
          }),
          `layer ${layer.layer}: contiguous makespan ${scaled(layer.contiguousMakespan, scale)} ${scale.label}`,
        ),
      );
    }
    svg.append(
      titled(
        el('line', { class: 'makespan', x1, x2, y1: y(layer.makespan), y2: y(layer.makespan), 'data-layer': l }),
        `layer ${layer.layer}: makespan ${scaled(layer.makespan, scale)} ${scale.label}, ${layer.status}`,
      ),
    );
  });
  xAxis(svg, box, layers, `layer (${gpus} bars per layer, one per GPU)`);
  container.replaceChildren(svg);
}

/**
 * The parts of a layer's split heads: on each GPU's bar, a segment per part at the top of the
 * bar (the part's cost / the GPU's speed), and a dotted line joining the parts of one head.
 */
function drawParts(svg, layer, l, center, y, scale, speeds) {
  if (!layer.parts || layer.parts.length === 0) return;
  const top = layer.gpuLoads.slice();
  const marks = new Map();
  for (const part of layer.parts) {
    const height = part.cost / speeds[part.gpu];
    const x = center(part.gpu);
    const width = 4;
    const rect = el('rect', {
      class: 'part',
      x: x - width / 2,
      y: y(top[part.gpu]),
      width,
      height: Math.max(0.5, y(top[part.gpu] - height) - y(top[part.gpu])),
      'data-layer': l,
      'data-gpu': part.gpu,
      'data-unit': part.unit,
    });
    svg.append(
      titled(
        rect,
        `layer ${layer.layer}, head ${part.unit}: rows [${part.rows[0]}, ${part.rows[1]}) on GPU ${part.gpu}, ${scaled(part.cost, scale)} ${scale.label}`,
      ),
    );
    marks.set(part.unit, [...(marks.get(part.unit) ?? []), { x, y: y(top[part.gpu] - height / 2) }]);
    top[part.gpu] -= height;
  }
  for (const [unit, points] of marks) {
    for (let i = 1; i < points.length; i++) {
      svg.append(
        el('line', {
          class: 'split-link',
          x1: points[i - 1].x,
          y1: points[i - 1].y,
          x2: points[i].x,
          y2: points[i].y,
          'data-layer': l,
          'data-unit': unit,
        }),
      );
    }
  }
}

/** Bubble ratio of each layer, this plan's next to contiguous placement's. */
export function drawBubbles(container, plan) {
  const layers = plan.layers.length;
  const height = 190;
  const box = { left: 70, right: WIDTH - 12, top: 10, bottom: height - 44 };
  box.height = box.bottom - box.top;
  const rows = plan.layers.map((layer) => {
    const mean = layer.gpuLoads.reduce((s, x) => s + x, 0) / layer.gpuLoads.length;
    return {
      plan: bubbleRatio(mean, layer.makespan),
      contiguous: layer.contiguousMakespan == null ? null : bubbleRatio(mean, layer.contiguousMakespan),
    };
  });
  const highest = Math.max(0.01, ...rows.flatMap((r) => [r.plan, r.contiguous ?? 0])) * 100;
  const step = niceStep(highest, 4);
  const yMax = Math.ceil(highest / step - 1e-9) * step;
  const y = (share) => box.bottom - ((share * 100) / yMax) * box.height;
  const svg = frame(height, `Bubble ratio of each of ${layers} layers, this plan and contiguous placement`);
  svg.dataset.layers = String(layers);
  yAxis(svg, box, yMax, step, (v, d) => `${v.toFixed(d)}%`, 'bubble ratio');
  const groupWidth = (box.right - box.left) / layers;
  const pad = Math.min(groupWidth * 0.15, 6);
  const barWidth = (groupWidth - 2 * pad) / 2;
  /** One layer's bar of `value` at `x`, with its tooltip. */
  const bar = (cls, x, value, l, tip) =>
    titled(
      el('rect', {
        class: cls,
        x,
        y: y(value),
        width: Math.max(0.4, barWidth),
        height: box.bottom - y(value),
        'data-layer': l,
      }),
      tip,
    );
  rows.forEach((row, l) => {
    const x = box.left + l * groupWidth + pad;
    const layer = plan.layers[l].layer;
    svg.append(bar('plan-bubble', x, row.plan, l, `layer ${layer}: bubble ${percent(row.plan)} in this plan`));
    if (row.contiguous !== null) {
      const tip = `layer ${layer}: bubble ${percent(row.contiguous)} under contiguous placement`;
      svg.append(bar('contiguous-bubble', x + barWidth, row.contiguous, l, tip));
    }
  });
  xAxis(svg, box, layers, 'layer');
  container.replaceChildren(svg);
}
