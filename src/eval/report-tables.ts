/**
 * The tables of the report and the README section, rendered from the evaluation document alone.
 * Each table's heading sentence states the KV-cache cap its columns use. Pure and deterministic.
 */
import type { EvaluationDocument } from './document.ts';
import type { ProfileEvaluation } from './evaluate.ts';
import { bestWithin, type Frontier } from './frontier.ts';
import { capText, fixed, gib, percent, times, timesOrNa } from './format.ts';

const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
/** A table head; `align` has one letter per column, l or r (numbers are right-aligned). */
export const header = (cells: readonly string[], align: string): string =>
  `${row(cells)}\n${row(cells.map((_, i) => (align[i] === 'r' ? '---:' : '---')))}`;

/** A column of a results table: its heading, its cell for one result, and its alignment (default right: numbers). */
export type Column = readonly [heading: string, cell: (r: ProfileEvaluation) => string, align?: 'l'];

/** Rows of `results` under `columns` (one of RESULT_TABLES), each led by its model (when `withModel`) and GPU count. */
export function renderResultsTable(
  columns: readonly Column[],
  results: readonly ProfileEvaluation[],
  withModel: boolean,
): string {
  const lead = withModel ? ['Model', 'GPUs'] : ['GPUs'];
  const align = `${withModel ? 'lr' : 'r'}${columns.map(([, , a]) => a ?? 'r').join('')}`;
  return [
    header([...lead, ...columns.map(([heading]) => heading)], align),
    ...results.map((r) =>
      row([...(withModel ? [r.model.displayName] : []), String(r.gpus), ...columns.map(([, cell]) => cell(r))]),
    ),
  ].join('\n');
}

/** "the default KV-cache cap 1.000 (...)": how the tables name the headline cap. */
export function defaultCapText(doc: EvaluationDocument): string {
  return `KV-cache cap ${capText(doc.defaultMaxKvCacheFactor)} (the default: no layer stores more KV heads than vLLM's contiguous placement)`;
}

/** An attention time relative to (b)'s, the adaptive contiguous placement at the default cap. */
const relative = (r: ProfileEvaluation, time: number): string => fixed(time / r.attentionTime.adaptiveContiguous, 3);
/** Layers proven optimal out of the model's. */
const proven = (r: ProfileEvaluation, layers: number): string => `${layers}/${r.model.layers}`;
/** The mixed workload's speedup over contiguous placement in one of its phases. */
const mixPhase = (r: ProfileEvaluation, name: string): number | null =>
  r.mix.phases.find((p) => p.phase === name)?.speedupVsContiguous ?? null;

/** The report's tables of results, each a list of columns. */
export const RESULT_TABLES: Readonly<Record<'default' | 'beyond' | 'phase' | 'bubble', readonly Column[]>> = {
  /** Attention times at the default cap, relative to (b) (what carries over to any device), and speedups. */
  default: [
    ['(a) uniform, contiguous', (r) => relative(r, r.attentionTime.uniformContiguous)],
    ['(b) adaptive, contiguous', (r) => relative(r, r.attentionTime.adaptiveContiguous)],
    ['(c) adaptive, greedy', (r) => relative(r, r.attentionTime.adaptiveGreedy)],
    ['(d) adaptive, S-HPLB', (r) => relative(r, r.attentionTime.adaptiveAuto)],
    ['(e) fluid bound', (r) => relative(r, r.attentionTime.fluidBound)],
    ['(a)/(d)', (r) => times(r.speedup.uniformOverAuto)],
    ['(b)/(d)', (r) => times(r.speedup.contiguousOverAuto)],
    ['(c)/(d)', (r) => times(r.speedup.greedyOverAuto)],
    ['(d)/(e)', (r) => times(r.speedup.autoOverFluid)],
    ['layers proven', (r) => proven(r, r.layersProvenOptimal)],
    ['KV-cache factor of (d)', (r) => fixed(r.kvCacheFactor.adaptiveAuto, 3)],
  ],
  /** S-HPLB with no KV-cache cap, and with split heads (no cap either), beside the default cap's speedup. */
  beyond: [
    ['(b)/(d) at the default cap', (r) => times(r.speedup.contiguousOverAuto)],
    ['no cap: attention time', (r) => relative(r, r.unconstrained.attentionTime)],
    ['no cap: (b)/S-HPLB', (r) => timesOrNa(r.unconstrained.speedupVsContiguous)],
    ['no cap: KV-cache factor reached', (r) => fixed(r.unconstrained.kvCacheFactor, 3)],
    ['no cap: layers proven', (r) => proven(r, r.unconstrained.layersProven)],
    ['(f) split heads, no cap: attention time', (r) => relative(r, r.split.attentionTime)],
    ['(f)/(e)', (r) => times(r.split.overFluid)],
    ['(f) KV-cache factor reached', (r) => fixed(r.split.kvCacheFactor, 3)],
    ['(f) layers proven', (r) => proven(r, r.split.layersProvenOptimal)],
  ],
  /** The decode and mixed columns: speedups over contiguous placement in the roofline's time. */
  phase: [
    ['decode: S-HPLB vs contiguous', (r) => timesOrNa(r.decode.plan.speedupVsContiguous)],
    ['decode: layers proven', (r) => proven(r, r.decode.plan.layersProven)],
    ['decode with (d) placed for prefill', (r) => times(r.decode.prefillPlacements.adaptiveAuto)],
    ['decode with the no-cap prefill plan', (r) => times(r.decode.prefillPlacements.unconstrained)],
    ['mix: S-HPLB vs contiguous', (r) => timesOrNa(r.mix.plan.speedupVsContiguous)],
    ['mix: prefill phase', (r) => timesOrNa(mixPhase(r, 'prefill'))],
    ['mix: decode phase', (r) => timesOrNa(mixPhase(r, 'decode'))],
    ['mix: layers proven', (r) => proven(r, r.mix.plan.layersProven)],
  ],
  /** Mean bubble ratio per setting at the default cap, and how well (d) is proven. */
  bubble: [
    ['(a) bubble', (r) => percent(r.meanBubbleRatio.uniformContiguous)],
    ['(b) bubble', (r) => percent(r.meanBubbleRatio.adaptiveContiguous)],
    ['(c) bubble', (r) => percent(r.meanBubbleRatio.adaptiveGreedy)],
    ['(d) bubble', (r) => percent(r.meanBubbleRatio.adaptiveAuto)],
    ['(d) gap to bound', (r) => `${fixed(r.autoGap * 100, 4)}%`],
    [
      '(d) layer status',
      (r) =>
        Object.entries(r.autoStatusCounts)
          .map(([status, n]) => `${status} ${n}`)
          .join(', '),
      'l',
    ],
  ],
};

/** One model's frontier at every GPU count of the document: a row per cap tried. */
export function renderFrontierTable(frontiers: readonly Frontier[], layers: number): string {
  return [
    header(
      [
        'GPUs',
        'KV-cache cap',
        'KV-cache factor reached',
        'speedup vs contiguous',
        'layers proven',
        'largest KV cache per GPU (GiB per sequence)',
        'on the front',
      ],
      'rrrrrrl',
    ),
    ...frontiers.flatMap((f) =>
      f.points.map((p) =>
        row([
          String(f.gpus),
          capText(p.maxKvCacheFactor),
          fixed(p.kvCacheFactor, 3),
          timesOrNa(p.speedupVsContiguous),
          `${p.layersProven}/${layers}`,
          gib(p.kvBytesPerGpuMax),
          p.pareto ? 'yes' : 'no (another point dominates it)',
        ]),
      ),
    ),
  ].join('\n');
}

/** The flagship's split curve: attention time relative to (b) against the most heads split per layer. */
export function renderSplitCurveTable(doc: EvaluationDocument): string {
  const base = (gpus: number) => doc.results.find((r) => r.model.id === doc.flagship.model && r.gpus === gpus);
  return [
    header(
      [
        'GPUs',
        'max split heads',
        'attention time',
        '/ (e)',
        'heads split',
        'layers proven',
        'KV-cache factor reached',
        'extra KV per GPU (MiB, worst layer)',
      ],
      'rrrrrrrr',
    ),
    ...doc.splitCurve.map((p) => {
      const b = base(p.gpus);
      return row([
        String(p.gpus),
        String(p.maxSplitHeads),
        b ? fixed(p.attentionTime / b.attentionTime.adaptiveContiguous, 3) : 'n/a',
        times(p.overFluid),
        String(p.splitHeads),
        `${p.layersProvenOptimal}/${b?.model.layers ?? '?'}`,
        fixed(p.kvCacheFactor, 3),
        fixed(p.maxExtraKvBytesPerGpu / 2 ** 20, 0),
      ]);
    }),
  ].join('\n');
}

/**
 * Frontiers at a few caps: per GPU count, the speedup of the best plan each cap allows and, in
 * brackets, the KV-cache factor that plan reaches.
 */
export function renderFrontierSummary(
  frontiers: readonly Frontier[],
  caps: readonly (number | null)[],
  defaultCap: number,
): string {
  const name = (cap: number | null): string =>
    cap === null ? 'no cap' : `cap ${capText(cap)}${cap === defaultCap ? ' (default)' : ''}`;
  return [
    header(['GPUs', ...caps.map(name)], 'r'.repeat(caps.length + 1)),
    ...frontiers.map((f) =>
      row([
        String(f.gpus),
        ...caps.map((cap) => {
          const p = bestWithin(f, cap);
          return p ? `${timesOrNa(p.speedupVsContiguous)} (${fixed(p.kvCacheFactor, 3)})` : 'n/a';
        }),
      ]),
    ),
  ].join('\n');
}
