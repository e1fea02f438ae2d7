/**
 * Where MInference's own vertical_and_slash selection lands inside the executed-work range that
 * src/cost/work.ts gives a head known only by its sizes: on SYNTHETIC heads (sink, local, vertical,
 * diffuse; src/kernel/synthetic.ts), selection and index conversion ported from MInference
 * (src/kernel/minference.ts), exact executed pairs vs the model's low and high layouts. The
 * median share over sizes in the profiles' regime (slash / n <= 0.1) is VERTICAL_SLASH_FACTOR.
 * Prints a table and JSON (bench/results/work-model.json).
 *
 *   npx tsx bench/work-model.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headWork, VERTICAL_SLASH_FACTOR } from '../src/cost/work.ts';
import { selectVerticalSlash } from '../src/kernel/minference.ts';
import { patternWork } from '../src/kernel/pattern-work.ts';
import { syntheticHead, SYNTHETIC_KINDS } from '../src/kernel/synthetic.ts';
import { median } from '../src/kernel/timing.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = [
  [30, 50],
  [100, 100],
  [100, 200],
  [300, 300],
  [1000, 100],
  [100, 1000],
] as const;

const rows = [];
for (const n of [2048, 4096]) {
  for (const kind of SYNTHETIC_KINDS) {
    const head = syntheticHead({ kind, n, seed: 3 });
    for (const [vertical, slash] of SIZES) {
      const exact = patternWork(selectVerticalSlash(head, { vertical, slash }), { n, causal: true }).executedPairs;
      const { low, high, estimate, clustered } = headWork(
        { kind: 'vertical_slash', vertical, slash },
        { seqLen: n, phase: 'prefill' },
      );
      rows.push({
        n,
        kind,
        vertical,
        slash,
        exact,
        low: low.executedPairs,
        high: high.executedPairs,
        estimate: estimate.executedPairs,
        ratio: exact / clustered.executedPairs,
      });
    }
  }
}
const regime = rows.filter((r) => r.slash / r.n <= 0.1);
const summary = {
  synthetic: true,
  medianRatioInRegime: median(regime.map((r) => r.ratio)),
  pointsInRegime: regime.length,
  insideRange: rows.filter((r) => r.low <= r.exact && r.exact <= r.high).length,
  points: rows.length,
  factor: VERTICAL_SLASH_FACTOR,
  medianRelativeErrorOfEstimate: median(regime.map((r) => Math.abs(r.estimate - r.exact) / r.exact)),
};
const table = [
  '    n  kind       v     s        exact          low         high     estimate  exact/clustered',
  ...rows.map(
    (r) =>
      `${String(r.n).padStart(5)}  ${r.kind.padEnd(8)} ${String(r.vertical).padStart(5)} ${String(r.slash).padStart(5)} ` +
      `${[r.exact, r.low, r.high, Math.round(r.estimate)].map((x) => String(x).padStart(12)).join(' ')}  ${r.ratio.toFixed(2)}`,
  ),
  `median exact/clustered (slash/n <= 0.1, ${summary.pointsInRegime} points): ${summary.medianRatioInRegime.toFixed(3)}; ` +
    `VERTICAL_SLASH_FACTOR = ${VERTICAL_SLASH_FACTOR}; exact inside [low, high] at ${summary.insideRange}/${summary.points} points; ` +
    `median |estimate - exact| / exact in that regime ${(100 * summary.medianRelativeErrorOfEstimate).toFixed(1)}%`,
];
process.stdout.write(`${table.join('\n')}\n`);
const out = resolve(REPO_ROOT, 'bench/results/work-model.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ summary, rows }, null, 2)}\n`);
