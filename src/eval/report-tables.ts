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

/** Rows of `results`, each led by its model (when `withModel`) and GPU count. */
function table(
  results: readonly ProfileEvaluation[],
  columns: readonly string[],
  cells: (r: ProfileEvaluation) => string[],
  withModel: boolean,
  columnAlign = 'r'.repeat(columns.length),
): string {
  const lead = withModel ? ['Model', 'GPUs'] : ['GPUs'];
  const align = `${withModel ? 'lr' : 'r'}${columnAlign}`;
  return [
    header([...lead, ...columns], align),
    ...results.map((r) => row([...(withModel ? [r.model.displayName] : []), String(r.gpus), ...cells(r)])),
  ].join('\n');
}

/** "the default KV-cache cap 1.000 (...)": how the tables name the headline cap. */
export function defaultCapText(doc: EvaluationDocument): string {
  return `KV-cache cap ${capText(doc.defaultMaxKvCacheFactor)} (the default: no layer stores more KV heads than vLLM's contiguous placement)`;
}

const DEFAULT_COLUMNS = [
  '(a) uniform, contiguous',
  '(b) adaptive, contiguous',
  '(c) adaptive, greedy',
  '(d) adaptive, S-HPLB',
  '(e) fluid bound',
  '(a)/(d)',
  '(b)/(d)',
  '(c)/(d)',
  '(d)/(e)',
  'layers proven',
  'KV-cache factor of (d)',
];

/** Attention times at the default cap, relative to (b) (what carries over to any device), and speedups. */
export function renderDefaultTable(results: readonly ProfileEvaluation[], withModel: boolean): string {
  return table(
    results,
    DEFAULT_COLUMNS,
    (r) => {
      const t = r.attentionTime;
      const relative = (value: number): string => fixed(value / t.adaptiveContiguous, 3);
      return [
        relative(t.uniformContiguous),
        relative(t.adaptiveContiguous),
        relative(t.adaptiveGreedy),
        relative(t.adaptiveAuto),
        relative(t.fluidBound),
        times(r.speedup.uniformOverAuto),
        times(r.speedup.contiguousOverAuto),
        times(r.speedup.greedyOverAuto),
        times(r.speedup.autoOverFluid),
        `${r.layersProvenOptimal}/${r.model.layers}`,
        fixed(r.kvCacheFactor.adaptiveAuto, 3),
      ];
    },
    withModel,
  );
}

const BEYOND_COLUMNS = [
  '(b)/(d) at the default cap',
  'no cap: attention time',
  'no cap: (b)/S-HPLB',
  'no cap: KV-cache factor reached',
  'no cap: layers proven',
  '(f) split heads, no cap: attention time',
  '(f)/(e)',
  '(f) KV-cache factor reached',
  '(f) layers proven',
];

/** S-HPLB with no KV-cache cap, and with split heads (no cap either), beside the default cap's speedup. */
export function renderBeyondTable(results: readonly ProfileEvaluation[], withModel: boolean): string {
  return table(
    results,
    BEYOND_COLUMNS,
    (r) => {
      const base = r.attentionTime.adaptiveContiguous;
      const u = r.unconstrained;
      return [
        times(r.speedup.contiguousOverAuto),
        fixed(u.attentionTime / base, 3),
        timesOrNa(u.speedupVsContiguous),
        fixed(u.kvCacheFactor, 3),
        `${u.layersProven}/${r.model.layers}`,
        fixed(r.split.attentionTime / base, 3),
        times(r.split.overFluid),
        fixed(r.split.kvCacheFactor, 3),
        `${r.split.layersProvenOptimal}/${r.model.layers}`,
      ];
    },
    withModel,
  );
}

const PHASE_COLUMNS = [
  'decode: S-HPLB vs contiguous',
  'decode: layers proven',
  'decode with (d) placed for prefill',
  'decode with the no-cap prefill plan',
  'mix: S-HPLB vs contiguous',
  'mix: prefill phase',
  'mix: decode phase',
  'mix: layers proven',
];

/** The decode and mixed columns: speedups over contiguous placement in the roofline's time. */
export function renderPhaseTable(results: readonly ProfileEvaluation[], withModel: boolean): string {
  return table(
    results,
    PHASE_COLUMNS,
    (r) => {
      const phase = (name: string) => r.mix.phases.find((p) => p.phase === name)?.speedupVsContiguous ?? null;
      return [
        timesOrNa(r.decode.plan.speedupVsContiguous),
        `${r.decode.plan.layersProven}/${r.model.layers}`,
        times(r.decode.prefillPlacements.adaptiveAuto),
        times(r.decode.prefillPlacements.unconstrained),
        timesOrNa(r.mix.plan.speedupVsContiguous),
        timesOrNa(phase('prefill')),
        timesOrNa(phase('decode')),
        `${r.mix.plan.layersProven}/${r.model.layers}`,
      ];
    },
    withModel,
  );
}

const BUBBLE_COLUMNS = ['(a) bubble', '(b) bubble', '(c) bubble', '(d) bubble', '(d) gap to bound', '(d) layer status'];

/** Mean bubble ratio per setting at the default cap, and how well (d) is proven. */
export function renderBubbleTable(results: readonly ProfileEvaluation[], withModel: boolean): string {
  return table(
    results,
    BUBBLE_COLUMNS,
    (r) => {
      const b = r.meanBubbleRatio;
      const statuses = Object.entries(r.autoStatusCounts)
        .map(([status, n]) => `${status} ${n}`)
        .join(', ');
      return [
        percent(b.uniformContiguous),
        percent(b.adaptiveContiguous),
        percent(b.adaptiveGreedy),
        percent(b.adaptiveAuto),
        `${fixed(r.autoGap * 100, 4)}%`,
        statuses,
      ];
    },
    withModel,
    'rrrrrl',
  );
}

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
