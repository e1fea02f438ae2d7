import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderFrontierSvg } from '../../src/eval/svg-frontier.ts';
import { renderBubbleSvg, renderSpeedupSvg, type BubbleChart } from '../../src/eval/svg.ts';
import { committedDocument } from './docs-path.ts';

const count = (text: string, pattern: RegExp): number => text.match(pattern)?.length ?? 0;

function assertWellFormed(svg: string): void {
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.endsWith('</svg>\n'));
  assert.equal(count(svg, /<g\b/g), count(svg, /<\/g>/g), 'groups balanced');
  assert.equal(count(svg, /<text\b/g), count(svg, /<\/text>/g), 'texts closed');
  assert.doesNotMatch(svg, /NaN|Infinity|\de[+-]\d/, 'only fixed-format numbers');
  assert.match(svg, /<title id="title">[^<]+<\/title>/);
  assert.match(svg, /<desc id="desc">[^<]+<\/desc>/);
  assert.match(svg, /role="img" aria-labelledby="title desc"/);
}

describe('bubble plot', () => {
  const chart: BubbleChart = {
    title: 'Tiny <model> & friends',
    desc: 'two layers, two GPUs',
    scale: { factor: 1, label: 'us' },
    panels: [
      {
        heading: 'contiguous',
        loads: [
          [4, 2],
          [3, 3],
        ],
      },
      {
        heading: 'balanced',
        loads: [
          [3, 3],
          [3, 3],
        ],
      },
    ],
  };
  const svg = renderBubbleSvg(chart);

  it('is well formed, titled and escaped', () => {
    assertWellFormed(svg);
    assert.ok(svg.includes('<title id="title">Tiny &lt;model&gt; &amp; friends</title>'));
  });

  it('draws a work bar per layer and GPU, a waiting bar only below the makespan, and a makespan line per layer', () => {
    assert.equal(count(svg, /<rect [^>]*fill="#3b6fb6"/g), 8 + 1, 'work bars plus the legend swatch');
    assert.equal(count(svg, /<rect [^>]*fill="#f2b880"/g), 1 + 1, 'one waiting GPU plus the legend swatch');
    assert.equal(count(svg, /<line [^>]*stroke="#1a1a1a"/g), 4 + 1, 'makespan lines plus the legend');
  });

  it('labels both axes', () => {
    assert.ok(svg.includes('>GPU load (us)</text>'));
    assert.ok(svg.includes('>layer (2 bars per layer, one per GPU)</text>'));
  });

  it('renders the same bytes twice', () => {
    assert.equal(renderBubbleSvg(chart), svg);
  });
});

describe('speedup plot', () => {
  const doc = committedDocument();
  const svg = renderSpeedupSvg(doc);

  it('is well formed and draws one bar per model and GPU count in each of its two panels', () => {
    assertWellFormed(svg);
    const bars = count(svg, /<rect [^>]*height="8\.00" fill=/g);
    assert.equal(bars, 2 * doc.results.length);
  });

  it("says which GPU counts do not divide a model's heads", () => {
    const models = new Set(doc.results.map((r) => r.model.id)).size;
    const missing = models * doc.gpuCounts.length - doc.results.length;
    assert.equal(count(svg, /n\/a \(\d+ heads\)/g), 2 * missing);
  });
});

describe('frontier plot', () => {
  const doc = committedDocument();
  const model = doc.frontiers[0].model;
  const frontiers = doc.frontiers.filter((f) => f.model === model);
  const svg = renderFrontierSvg(doc, model);

  it('is well formed and draws one point per cap tried, filled on the front and hollow off it', () => {
    assertWellFormed(svg);
    const points = frontiers.flatMap((f) => f.points);
    const marks = svg.match(/<circle [^>]*r="4" fill="[^"]+"[^>]*><title>/g) ?? [];
    assert.equal(marks.length, points.length);
    assert.equal(marks.filter((m) => m.includes('fill="#ffffff"')).length, points.filter((p) => !p.pareto).length);
  });

  it('marks the default cap and labels both axes', () => {
    assert.ok(svg.includes(`>default cap ${doc.defaultMaxKvCacheFactor.toFixed(3)}</text>`));
    assert.ok(svg.includes(">KV-cache factor reached (KV heads stored / contiguous placement's)</text>"));
    assert.ok(svg.includes('>speedup vs contiguous</text>'));
  });

  it('keeps every plot to a readable number of grid lines, a frontier of one point (MHA) included', () => {
    for (const id of new Set(doc.frontiers.map((f) => f.model))) {
      const lines = count(renderFrontierSvg(doc, id), /<line [^>]*stroke="#(dddddd|eeeeee)"/g);
      assert.ok(lines >= 4 && lines <= 30, `${id}: ${lines} grid lines`);
    }
  });

  it('refuses a model the document has no frontier of', () => {
    assert.throws(() => renderFrontierSvg(doc, 'no-such-model'), /no frontier/);
  });
});
