/**
 * SVG plots of the evaluation, built as plain strings: every coordinate goes through fixed(), so
 * the same document always gives the same bytes. Each plot has <title>, <desc> and axis labels.
 */
import type { EvaluationDocument } from './document.ts';
import type { ProfileEvaluation } from './evaluate.ts';
import { capText, fixed, percent, scaled, times, type TimeScale } from './format.ts';
import { meanLayerBubble } from './loads.ts';
import { documentScale } from './report.ts';
import { c, escapeXml, svgDocument, text } from './svg-base.ts';
import { niceStep, stepDigits } from '../../public/plan-math.js';

const WORK_COLOUR = '#3b6fb6';
const WAIT_COLOUR = '#f2b880';
const MAKESPAN_COLOUR = '#1a1a1a';
const GPU_COUNT_COLOURS = ['#a6c8ea', '#5b93cf', '#1f4e79'];

/** One panel of the bubble plot: [layers][gpus] loads in the cost unit. */
export interface BubblePanel {
  readonly heading: string;
  readonly loads: readonly (readonly number[])[];
}

export interface BubbleChart {
  readonly title: string;
  readonly desc: string;
  readonly scale: TimeScale;
  readonly panels: readonly BubblePanel[];
}

const BUBBLE = {
  width: 1000,
  left: 78,
  right: 16,
  top: 56,
  panelHeight: 236,
  plotTop: 30,
  plotHeight: 160,
  legend: 34,
} as const;

/**
 * Per-GPU load of every layer, one panel per placement, on a shared y axis: a blue bar per GPU,
 * the waiting time up to the layer's makespan in orange above it, and the makespan as a black line.
 */
export function renderBubbleSvg(chart: BubbleChart): string {
  const { width, left, right, top, panelHeight, plotTop, plotHeight, legend } = BUBBLE;
  const height = top + chart.panels.length * panelHeight + legend;
  const yMaxData = Math.max(...chart.panels.flatMap((p) => p.loads.flat())) / chart.scale.factor;
  const step = niceStep(yMaxData);
  const yMax = Math.ceil(yMaxData / step - 1e-9) * step;
  const plotWidth = width - left - right;
  const body: string[] = [text(width / 2, 24, chart.title, 'text-anchor="middle" font-size="16" font-weight="600"')];

  chart.panels.forEach((panel, p) => {
    const y0 = top + p * panelHeight;
    const base = y0 + plotTop + plotHeight;
    const y = (value: number): number => base - (value / chart.scale.factor / yMax) * plotHeight;
    const layers = panel.loads.length;
    const gpus = panel.loads[0]?.length ?? 0;
    const groupWidth = plotWidth / layers;
    const pad = groupWidth * 0.08;
    const barWidth = (groupWidth - 2 * pad) / gpus;
    body.push(`<g aria-label="${escapeXml(panel.heading)}">`);
    body.push(text(left, y0 + 18, panel.heading, 'font-size="13" font-weight="600"'));
    for (let tick = 0; tick <= yMax + step * 1e-9; tick += step) {
      const ty = base - (tick / yMax) * plotHeight;
      body.push(
        `<line x1="${c(left)}" y1="${c(ty)}" x2="${c(left + plotWidth)}" y2="${c(ty)}" stroke="#dddddd" stroke-width="1"/>`,
      );
      body.push(text(left - 6, ty + 4, fixed(tick, stepDigits(step)), 'text-anchor="end" fill="#444444"'));
    }
    panel.loads.forEach((loads, layer) => {
      const makespan = Math.max(...loads);
      const gx = left + layer * groupWidth + pad;
      loads.forEach((load, gpu) => {
        const x = gx + gpu * barWidth;
        const w = Math.max(0.5, barWidth - 0.6);
        if (makespan > load)
          body.push(
            `<rect x="${c(x)}" y="${c(y(makespan))}" width="${c(w)}" height="${c(y(load) - y(makespan))}" fill="${WAIT_COLOUR}"/>`,
          );
        body.push(
          `<rect x="${c(x)}" y="${c(y(load))}" width="${c(w)}" height="${c(base - y(load))}" fill="${WORK_COLOUR}"/>`,
        );
      });
      body.push(
        `<line x1="${c(gx)}" y1="${c(y(makespan))}" x2="${c(gx + gpus * barWidth)}" y2="${c(y(makespan))}" stroke="${MAKESPAN_COLOUR}" stroke-width="1.5"/>`,
      );
      if (layer % 4 === 0 || layer === layers - 1)
        body.push(
          text(left + (layer + 0.5) * groupWidth, base + 15, String(layer), 'text-anchor="middle" fill="#444444"'),
        );
    });
    body.push(
      `<line x1="${c(left)}" y1="${c(base)}" x2="${c(left + plotWidth)}" y2="${c(base)}" stroke="#444444" stroke-width="1"/>`,
    );
    body.push(
      text(left + plotWidth / 2, base + 32, `layer (${gpus} bars per layer, one per GPU)`, 'text-anchor="middle"'),
    );
    const mid = base - plotHeight / 2;
    body.push(
      text(20, mid, `GPU load (${chart.scale.label})`, `text-anchor="middle" transform="rotate(-90 20 ${c(mid)})"`),
    );
    body.push('</g>');
  });

  const ly = height - legend + 14;
  const items: [string, string][] = [
    [WORK_COLOUR, 'work on the GPU'],
    [WAIT_COLOUR, 'waiting for the slowest GPU (bubble)'],
  ];
  let lx = left;
  for (const [colour, label] of items) {
    body.push(`<rect x="${c(lx)}" y="${c(ly - 10)}" width="12" height="12" fill="${colour}"/>`);
    body.push(text(lx + 18, ly, label));
    lx += 18 + label.length * 6.6 + 24;
  }
  body.push(
    `<line x1="${c(lx)}" y1="${c(ly - 4)}" x2="${c(lx + 16)}" y2="${c(ly - 4)}" stroke="${MAKESPAN_COLOUR}" stroke-width="1.5"/>`,
  );
  body.push(text(lx + 22, ly, 'layer makespan'));
  return svgDocument(width, height, chart.title, chart.desc, body);
}

/** The flagship's bubble plot: contiguous vs S-HPLB at the default cap and with no cap, same adaptive budgets. */
export function flagshipBubbleChart(doc: EvaluationDocument): BubbleChart {
  const scale = documentScale(doc);
  const r = doc.results.find((x) => x.model.id === doc.flagship.model && x.gpus === doc.flagship.gpus)!;
  const { adaptiveContiguous, adaptiveAuto, unconstrained } = doc.flagship.loads;
  const time = (value: number): string => `${scaled(value, scale)} ${scale.label}`;
  const cap = capText(doc.defaultMaxKvCacheFactor);
  const contiguous = `contiguous placement: ${time(r.attentionTime.adaptiveContiguous)}, mean bubble ${percent(r.meanBubbleRatio.adaptiveContiguous)}`;
  const auto =
    `S-HPLB at the default KV-cache cap ${cap}: ${time(r.attentionTime.adaptiveAuto)}, mean bubble ${percent(r.meanBubbleRatio.adaptiveAuto)}` +
    ` (${times(r.speedup.contiguousOverAuto)} faster, KV-cache factor ${fixed(r.kvCacheFactor.adaptiveAuto, 3)})`;
  const free =
    `S-HPLB with no KV-cache cap: ${time(r.unconstrained.attentionTime)}, mean bubble ${percent(meanLayerBubble(unconstrained))}` +
    ` (${r.unconstrained.speedupVsContiguous === null ? 'n/a' : times(r.unconstrained.speedupVsContiguous)} faster, KV-cache factor ${fixed(r.unconstrained.kvCacheFactor, 3)})`;
  return {
    title: `${doc.flagship.displayName}, ${doc.flagship.gpus} GPUs: per-GPU attention load per layer`,
    desc:
      `Prefill of ${doc.workload.seqLen} tokens, cost model ${doc.costModel.name} (${doc.costModel.unit}), adaptive per-head budgets. ` +
      `Top: ${contiguous}. Middle: ${auto}. Bottom: ${free}.`,
    scale,
    panels: [
      { heading: `(b) ${contiguous}`, loads: adaptiveContiguous },
      { heading: `(d) ${auto}`, loads: adaptiveAuto },
      { heading: free, loads: unconstrained },
    ],
  };
}

/** "Qwen2.5-7B-Instruct 128k (MInference)" -> ["Qwen2.5-7B-Instruct 128k", "(MInference)"]. */
function splitDisplayName(displayName: string): [string, string] {
  const at = displayName.lastIndexOf(' (');
  return at > 0 && displayName.endsWith(')')
    ? [displayName.slice(0, at), displayName.slice(at + 1)]
    : [displayName, ''];
}

/** A panel of the speedup plot: which speedup of a row it draws. */
interface SpeedupPanel {
  readonly value: (r: ProfileEvaluation) => number;
  readonly heading: string;
}

const SPEEDUP = {
  width: 1000,
  labelWidth: 250,
  right: 36,
  panelGap: 28,
  top: 64,
  rowHeight: 40,
  barHeight: 9,
  axis: 40,
  legend: 30,
} as const;

/**
 * Prefill speedup of S-HPLB over contiguous placement per model: one horizontal bar per GPU
 * count, at the default KV-cache cap in the left panel and with no cap in the right, each from 0
 * with a dashed line at 1x (no gain).
 */
export function renderSpeedupSvg(doc: EvaluationDocument): string {
  const { width, labelWidth, right, panelGap, top, rowHeight, barHeight, axis, legend } = SPEEDUP;
  const models = [...new Map(doc.results.map((r) => [r.model.id, r.model])).values()];
  const height = top + models.length * rowHeight + axis + legend;
  const panelWidth = (width - labelWidth - right - panelGap) / 2;
  const cap = capText(doc.defaultMaxKvCacheFactor);
  const unconstrained = (r: ProfileEvaluation): number => r.unconstrained.speedupVsContiguous ?? 0;
  const panels: SpeedupPanel[] = [
    { value: (r) => r.speedup.contiguousOverAuto, heading: `(b)/(d), default KV-cache cap ${cap}` },
    { value: unconstrained, heading: 'vs (b), no KV-cache cap' },
  ];
  const title = 'Prefill speedup of S-HPLB over contiguous placement per model and GPU count';
  const desc =
    `Prefill of ${doc.workload.seqLen} tokens, cost model ${doc.costModel.name} (${doc.costModel.unit}), query-head units, equal heads per GPU, same adaptive budgets. ` +
    doc.results
      .map(
        (r) =>
          `${r.model.displayName} at ${r.gpus} GPUs: ${times(r.speedup.contiguousOverAuto)} at KV-cache cap ${cap}, ${times(unconstrained(r))} with no cap (KV-cache factor ${fixed(r.unconstrained.kvCacheFactor, 3)}).`,
      )
      .join(' ');
  const body: string[] = [text(width / 2, 24, title, 'text-anchor="middle" font-size="16" font-weight="600"')];
  const plotBottom = top + models.length * rowHeight;

  models.forEach((model, m) => {
    // "Name (Method)" on two lines, so that long names fit the label column.
    const [name, method] = splitDisplayName(model.displayName);
    const mid = top + m * rowHeight + rowHeight / 2;
    if (method)
      body.push(
        text(labelWidth - 10, mid - 2, name, 'text-anchor="end"'),
        text(labelWidth - 10, mid + 12, method, 'text-anchor="end" fill="#555555"'),
      );
    else body.push(text(labelWidth - 10, mid + 4, name, 'text-anchor="end"'));
  });
  panels.forEach((panel, p) => {
    const x0 = labelWidth + p * (panelWidth + panelGap);
    const maxValue = Math.max(...doc.results.map(panel.value));
    const step = niceStep(maxValue, 4);
    // Room to the right of the longest bar for its value label.
    const xMax = Math.ceil((maxValue * 1.2) / step - 1e-9) * step;
    const x = (value: number): number => x0 + (value / xMax) * panelWidth;
    body.push(`<g aria-label="${escapeXml(panel.heading)}">`);
    body.push(text(x0, top - 14, panel.heading, 'font-size="13" font-weight="600"'));
    for (let tick = 0; tick <= xMax + step * 1e-9; tick += step) {
      body.push(
        `<line x1="${c(x(tick))}" y1="${c(top)}" x2="${c(x(tick))}" y2="${c(plotBottom)}" stroke="#dddddd" stroke-width="1"/>`,
      );
      body.push(
        text(x(tick), plotBottom + 15, `${fixed(tick, stepDigits(step))}x`, 'text-anchor="middle" fill="#444444"'),
      );
    }
    body.push(
      `<line x1="${c(x(1))}" y1="${c(top)}" x2="${c(x(1))}" y2="${c(plotBottom)}" stroke="#777777" stroke-width="1" stroke-dasharray="4 3"/>`,
    );
    models.forEach((model, m) => {
      const rowTop = top + m * rowHeight + (rowHeight - doc.gpuCounts.length * barHeight) / 2;
      doc.gpuCounts.forEach((gpus, g) => {
        const by = rowTop + g * barHeight;
        const r = doc.results.find((x) => x.model.id === model.id && x.gpus === gpus);
        if (!r) {
          body.push(
            text(
              x0 + 4,
              by + barHeight - 1,
              `${gpus} GPUs: n/a (${model.queryHeads} heads)`,
              'font-size="9" fill="#777777"',
            ),
          );
          return;
        }
        const value = panel.value(r);
        body.push(
          `<rect x="${c(x0)}" y="${c(by + 0.5)}" width="${c(x(value) - x0)}"` +
            ` height="${c(barHeight - 1)}" fill="${GPU_COUNT_COLOURS[g % GPU_COUNT_COLOURS.length]}"/>`,
        );
        body.push(text(x(value) + 4, by + barHeight - 1, times(value), 'font-size="9" fill="#222222"'));
      });
    });
    body.push(
      `<line x1="${c(x0)}" y1="${c(plotBottom)}" x2="${c(x0 + panelWidth)}" y2="${c(plotBottom)}" stroke="#444444" stroke-width="1"/>`,
    );
    body.push(
      text(
        x0 + panelWidth / 2,
        plotBottom + 32,
        'speedup (contiguous attention time / S-HPLB)',
        'text-anchor="middle"',
      ),
    );
    body.push('</g>');
  });

  let lx = labelWidth;
  const ly = height - legend + 16;
  doc.gpuCounts.forEach((gpus, g) => {
    body.push(
      `<rect x="${c(lx)}" y="${c(ly - 10)}" width="12" height="12" fill="${GPU_COUNT_COLOURS[g % GPU_COUNT_COLOURS.length]}"/>`,
    );
    body.push(text(lx + 18, ly, `${gpus} GPUs`));
    lx += 90;
  });
  body.push(
    `<line x1="${c(lx)}" y1="${c(ly - 4)}" x2="${c(lx + 16)}" y2="${c(ly - 4)}" stroke="#777777" stroke-width="1" stroke-dasharray="4 3"/>`,
  );
  body.push(text(lx + 22, ly, '1x: no gain'));
  return svgDocument(width, height, title, desc, body);
}
