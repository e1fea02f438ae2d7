/**
 * The tables `npm run bench:solver` prints (bench/solver.ts): whole-model plans, formulations,
 * random costs, the suite; and with --kv the KV targets (bench/solver-kv.ts).
 */
import { textTable } from '../src/cli/format.ts';
import type { perLayer, runKvBench } from './solver-kv.ts';
import { formatSuite, type runSuite } from './solver-suite.ts';

const fmt = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

interface ModelRow {
  model: string;
  gpus: number;
  contiguousOverAuto: number;
  autoOverGreedy: number;
  auto: number;
  greedy: number;
  layersProven: number;
  layers: number;
  coldPlanMs: number;
  poolStartMs: number;
}

interface EngineRun {
  totalMs: number;
  proven: number;
}

interface FormulationRow {
  model: string;
  gpus: number;
  layers: number;
  textbook: EngineRun;
  aggregatedIlp: EngineRun;
  auto: EngineRun;
  textbookOverIlp: number;
  textbookOverAuto: number;
}

interface RandomRow {
  units: number;
  gpus: number;
  maxAutoGap: number;
  maxAutoMs: number;
  seeds: { greedyGap: number }[];
}

/** The whole report: whole-model plans, formulations, random costs and the all-distinct suite. */
export function formatSolverBench(
  result: {
    models: ModelRow[];
    formulations: FormulationRow[];
    random: RandomRow[];
    suite: Awaited<ReturnType<typeof runSuite>>;
  },
  settings: { textbookLayers: number; layerLimitMs: number },
): string {
  const layersTotal = result.models.reduce((s, m) => s + m.layers, 0);
  const provenTotal = result.models.reduce((s, m) => s + m.layersProven, 0);
  return [
    '\n## Whole-model plans (query-head units, equal counts, auto engine, cold process)\n',
    modelsTable(result.models),
    `\nlayers proven: ${provenTotal}/${layersTotal} (${((100 * provenTotal) / layersTotal).toFixed(2)}%)`,
    `\n## Formulations, first ${settings.textbookLayers} layers, ${settings.layerLimitMs} ms per layer, same GLPK\n`,
    formulationsTable(result.formulations),
    '\n## Random all-distinct costs, 500 ms per layer (3 seeds)\n',
    randomTable(result.random),
    `\n## All-distinct suite (log-normal costs, equal counts, plan 10 s, layer 2 s, gap 1e-4)\n\n${formatSuite(result.suite)}`,
  ].join('\n');
}

function modelsTable(models: readonly ModelRow[]): string {
  return textTable(
    ['model', 'G', 'contiguous/auto', 'greedy/auto', 'auto<=greedy', 'proven', 'cold plan ms', 'pool start ms'],
    models.map((m) => [
      m.model,
      String(m.gpus),
      fmt(m.contiguousOverAuto, 3),
      fmt(1 / m.autoOverGreedy, 5),
      m.auto <= m.greedy * (1 + 1e-12) ? 'yes' : 'NO',
      `${m.layersProven}/${m.layers}`,
      m.coldPlanMs.toFixed(0),
      m.poolStartMs.toFixed(0),
    ]),
  );
}

function formulationsTable(formulations: readonly FormulationRow[]): string {
  const header = ['model', 'G', 'textbook ms', 'proven', 'aggregated ILP ms', 'proven', 'auto ms', 'proven'];
  return textTable(
    [...header, 'textbook/ILP', 'textbook/auto'],
    formulations.map((f) => [
      f.model,
      String(f.gpus),
      f.textbook.totalMs.toFixed(0),
      `${f.textbook.proven}/${f.layers}`,
      f.aggregatedIlp.totalMs.toFixed(0),
      `${f.aggregatedIlp.proven}/${f.layers}`,
      f.auto.totalMs.toFixed(0),
      `${f.auto.proven}/${f.layers}`,
      `${f.textbookOverIlp.toFixed(1)}x`,
      `${f.textbookOverAuto.toFixed(1)}x`,
    ]),
  );
}

function randomTable(random: readonly RandomRow[]): string {
  return textTable(
    ['units', 'G', 'max greedy gap', 'max auto gap', 'max auto ms'],
    random.map((r) => [
      String(r.units),
      String(r.gpus),
      `${(100 * Math.max(...r.seeds.map((s) => s.greedyGap))).toFixed(3)}%`,
      `${(100 * r.maxAutoGap).toFixed(3)}%`,
      r.maxAutoMs.toFixed(0),
    ]),
  );
}

type KvBenchResult = Awaited<ReturnType<typeof runKvBench>>;

const pct = (x: number) => `${(100 * x).toFixed(3)}%`;

/** Markdown tables of a run. */
export function formatKvBench(result: KvBenchResult): string {
  const targets = textTable(
    [
      'case',
      'proven',
      'within 1 s',
      'worst open gap',
      'plan ms',
      'median layer ms',
      'max layer ms',
      'speedup',
      'KV factor',
      'KV proven',
    ],
    result.targets.map((r) => [
      r.case,
      `${r.proven}/${r.layers}`,
      `${r.provenWithin1s}/${r.layers}`,
      pct(r.worstOpenGap),
      r.planMs.toFixed(0),
      r.medianLayerMs.toFixed(0),
      r.maxLayerMs.toFixed(0),
      r.speedup === null ? 'n/a' : `${r.speedup.toFixed(3)}x`,
      r.kvCacheFactor === null ? 'n/a' : r.kvCacheFactor.toFixed(3),
      `${r.kvProven}/${r.layers}`,
    ]),
  );
  const sanity = textTable(
    ['case (no group costs)', 'speedup vs contiguous', 'proven'],
    result.sanity.map((r) => [
      r.case,
      r.speedup === null ? 'n/a' : `${r.speedup.toFixed(3)}x`,
      `${r.proven}/${r.layers}`,
    ]),
  );
  const baseline = textTable(
    ['G=8, maxKvGroupsPerGpu', 'plan', 'proven', 'plan ms', 'median layer ms', 'max layer ms'],
    result.baseline.flatMap((r) => {
      const plans: [string, ReturnType<typeof perLayer>][] = [
        [`${r.baseline.ref} (no copy costs)`, r.baseline],
        ['this tree (no copy costs)', r.thisTree],
        ['this tree (copies priced)', r.thisTreePriced],
      ];
      return plans.map(([name, v]) => [
        String(r.groupsPerGpu),
        name,
        `${v.proven}/32`,
        v.planMs.toFixed(0),
        String(v.medianLayerMs),
        String(v.maxLayerMs),
      ]);
    }),
  );
  return `## KV targets (flagship, prefill ${result.seqLen}, 1 s per layer, ${result.clock} clock)\n\n${targets}\n\n## Sanity: no group costs\n\n${sanity}\n\n## Side by side with the baseline\n\n${baseline}`;
}
