/**
 * The KV-cache frontier plot of one model: prefill speedup over contiguous placement against the
 * KV-cache factor a plan reaches, one curve per GPU count. Every cap tried is a point (filled on
 * the Pareto front, hollow off it); a step line joins the front; a
 * dashed line marks the default cap. Plain strings through fixed(), so the bytes are stable.
 */
import type { EvaluationDocument } from './document.ts';
import type { Frontier } from './frontier.ts';
import { capText, fixed, times } from './format.ts';
import { c, escapeXml, svgDocument, text } from './svg-base.ts';
import { niceRange, stepDigits } from '../../public/plan-math.js';

const CURVE_COLOURS = ['#1f4e79', '#d1495b', '#2a9d8f', '#8d6a9f'];
const PLOT = { width: 760, height: 420, left: 70, right: 24, top: 52, bottom: 96 } as const;

/** Where labels were written, so that a label that would overlap one is left out (its point keeps its tooltip). */
type Placed = { x: number; y: number }[];

function curve(
  f: Frontier,
  colour: string,
  x: (v: number) => number,
  y: (v: number) => number,
  layers: number,
  placed: Placed,
): string[] {
  const body: string[] = [`<g aria-label="${escapeXml(`${f.gpus} GPUs`)}">`];
  const front = f.points.filter((p) => p.pareto && p.speedupVsContiguous !== null);
  const steps: string[] = [];
  front.forEach((p, i) => {
    const px = x(p.kvCacheFactor);
    const py = y(p.speedupVsContiguous!);
    if (i > 0) steps.push(`${c(px)},${c(y(front[i - 1].speedupVsContiguous!))}`);
    steps.push(`${c(px)},${c(py)}`);
  });
  if (steps.length > 1)
    body.push(`<polyline points="${steps.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.8"/>`);
  // Points on the front last, so that one is never hidden under an equal point off it.
  for (const p of [...f.points.filter((q) => !q.pareto), ...f.points.filter((q) => q.pareto)]) {
    if (p.speedupVsContiguous === null) continue;
    const fill = p.pareto ? colour : '#ffffff';
    const tip = `${f.gpus} GPUs, cap ${capText(p.maxKvCacheFactor)}: factor ${fixed(p.kvCacheFactor, 3)}, ${times(p.speedupVsContiguous)}, ${p.layersProven}/${layers} layers proven`;
    body.push(
      `<circle cx="${c(x(p.kvCacheFactor))}" cy="${c(y(p.speedupVsContiguous))}" r="4" fill="${fill}" stroke="${colour}" stroke-width="1.5"><title>${escapeXml(tip)}</title></circle>`,
    );
  }
  for (const p of front) {
    const label = `${times(p.speedupVsContiguous!)}${p.maxKvCacheFactor === null ? ' (no cap)' : ''}`;
    const [lx, ly] = [x(p.kvCacheFactor) + 6, y(p.speedupVsContiguous!) - 7];
    if (placed.some((q) => Math.abs(q.x - lx) < 60 && Math.abs(q.y - ly) < 13)) continue;
    placed.push({ x: lx, y: ly });
    const anchor = lx > PLOT.width - PLOT.right - 90 ? ' text-anchor="end"' : '';
    body.push(text(anchor ? lx - 12 : lx, ly, label, `font-size="10" fill="${colour}"${anchor}`));
  }
  body.push('</g>');
  return body;
}

type Box = { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number };
type Range = { readonly lo: number; readonly hi: number; readonly step: number };

/** Grid, ticks, the default cap's dashed line and the axis titles. */
function axes(
  doc: EvaluationDocument,
  box: Box,
  xr: Range,
  yr: Range,
  x: (v: number) => number,
  y: (v: number) => number,
): string[] {
  const body: string[] = [];
  for (let v = yr.lo; v <= yr.hi + yr.step * 1e-9; v += yr.step) {
    body.push(
      `<line x1="${c(box.left)}" y1="${c(y(v))}" x2="${c(box.right)}" y2="${c(y(v))}" stroke="#dddddd" stroke-width="1"/>`,
      text(box.left - 6, y(v) + 4, `${fixed(v, stepDigits(yr.step))}x`, 'text-anchor="end" fill="#444444"'),
    );
  }
  for (let v = xr.lo; v <= xr.hi + xr.step * 1e-9; v += xr.step) {
    body.push(
      `<line x1="${c(x(v))}" y1="${c(box.top)}" x2="${c(x(v))}" y2="${c(box.bottom)}" stroke="#eeeeee" stroke-width="1"/>`,
      text(x(v), box.bottom + 16, fixed(v, stepDigits(xr.step)), 'text-anchor="middle" fill="#444444"'),
    );
  }
  const cap = x(doc.defaultMaxKvCacheFactor);
  const mid = (box.top + box.bottom) / 2;
  body.push(
    `<line x1="${c(cap)}" y1="${c(box.top)}" x2="${c(cap)}" y2="${c(box.bottom)}" stroke="#777777" stroke-width="1" stroke-dasharray="4 3"/>`,
    text(cap + 4, box.top + 12, `default cap ${capText(doc.defaultMaxKvCacheFactor)}`, 'font-size="10" fill="#555555"'),
    `<line x1="${c(box.left)}" y1="${c(box.bottom)}" x2="${c(box.right)}" y2="${c(box.bottom)}" stroke="#444444" stroke-width="1"/>`,
    text(
      (box.left + box.right) / 2,
      box.bottom + 36,
      "KV-cache factor reached (KV heads stored / contiguous placement's)",
      'text-anchor="middle"',
    ),
    text(18, mid, 'speedup vs contiguous', `text-anchor="middle" transform="rotate(-90 18 ${c(mid)})"`),
  );
  return body;
}

/** The legend: a colour per GPU count, and what a hollow point means. */
function legend(frontiers: readonly Frontier[], left: number, ly: number): string[] {
  const body: string[] = [];
  let lx = left;
  frontiers.forEach((f, i) => {
    const colour = CURVE_COLOURS[i % CURVE_COLOURS.length];
    body.push(
      `<circle cx="${c(lx + 6)}" cy="${c(ly - 4)}" r="4" fill="${colour}"/>`,
      text(lx + 16, ly, `${f.gpus} GPUs`),
    );
    lx += 90;
  });
  body.push(
    `<circle cx="${c(lx + 6)}" cy="${c(ly - 4)}" r="4" fill="#ffffff" stroke="#444444" stroke-width="1.5"/>`,
    text(lx + 16, ly, "a cap's plan off the front (another stores no more KV and is at least as fast)"),
  );
  return body;
}

/** The plot's description: its Pareto points per GPU count. */
function description(doc: EvaluationDocument, frontiers: readonly Frontier[]): string {
  const front = (f: Frontier): string =>
    f.points
      .filter((p) => p.pareto)
      .map(
        (p) =>
          `factor ${fixed(p.kvCacheFactor, 3)} ${p.speedupVsContiguous === null ? 'n/a' : times(p.speedupVsContiguous)}`,
      )
      .join(', ');
  return (
    `S-HPLB's prefill speedup over contiguous placement (prefill of ${doc.workload.seqLen} tokens, cost model ${doc.costModel.name}) at each KV-cache cap, ` +
    "against the KV-cache factor the plan reaches (KV heads stored over contiguous placement's). " +
    frontiers.map((f) => `${f.gpus} GPUs: ${front(f)}.`).join(' ')
  );
}

/** The frontier plot of `model`: its frontiers in the document, one curve per GPU count. */
export function renderFrontierSvg(doc: EvaluationDocument, model: string): string {
  const frontiers = doc.frontiers.filter((f) => f.model === model);
  const r = doc.results.find((x) => x.model.id === model);
  if (!r || frontiers.length === 0) throw new Error(`the document has no frontier of ${model}`);
  const { width, height, left, right, top, bottom } = PLOT;
  const box = { left, right: width - right, top, bottom: height - bottom };
  const points = frontiers.flatMap((f) => f.points.filter((p) => p.speedupVsContiguous !== null));
  // A frontier of one point (an MHA model's) still gets readable axes: at least 0.5 and 0.1 wide.
  const xr = niceRange([doc.defaultMaxKvCacheFactor, ...points.map((p) => p.kvCacheFactor)], 0.5, 6);
  const yr = niceRange([1, ...points.map((p) => p.speedupVsContiguous!)], 0.1, 5);
  const x = (v: number): number => box.left + ((v - xr.lo) / (xr.hi - xr.lo)) * (box.right - box.left);
  const y = (v: number): number => box.bottom - ((v - yr.lo) / (yr.hi - yr.lo)) * (box.bottom - box.top);
  const title = `${r.model.displayName}: prefill speedup against KV cache`;
  const body: string[] = [
    text(width / 2, 24, title, 'text-anchor="middle" font-size="15" font-weight="600"'),
    ...axes(doc, box, xr, yr, x, y),
  ];
  const placed: Placed = [];
  frontiers.forEach((f, i) =>
    body.push(...curve(f, CURVE_COLOURS[i % CURVE_COLOURS.length], x, y, r.model.layers, placed)),
  );
  body.push(...legend(frontiers, box.left, height - 22));
  return svgDocument(width, height, title, description(doc, frontiers), body);
}
