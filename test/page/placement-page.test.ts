/**
 * The page's main view in a real browser (Debian's chromium through playwright-core): opened with
 * URL parameters, it draws the plan the API returns for the same parameters: which heads sit on
 * which GPU (cells, KV-group colours, legend), the KV heads each GPU stores beside contiguous
 * placement's, and the frontier with the cap on show; changing a control updates the URL.
 * Without /usr/bin/chromium it is skipped, or fails when CI is set (test/requirements.ts).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Plan } from '../../src/planner/plan.ts';
import { FLAGSHIP_MODEL } from '../../src/profiles/flagship.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { URL_PARAMS } from '../../public/url-state.js';
import { CHROMIUM, describeRequiring } from '../requirements.ts';
import { SETTLE_LIMIT_MS, usePageHarness } from './page-harness.ts';

/** The frontier's answer as far as the page reads it. */
interface FrontierAnswer {
  points: { maxKvCacheFactor: number | null; kvCacheFactor: number; speedupVsContiguous: number | null }[];
}

/** What a cell of the placement table shows. */
interface DrawnCell {
  head: number;
  group: number;
  gpu: number;
  colour: string;
  background: string;
}

describeRequiring(CHROMIUM, 'the placement view of the page', { timeout: 10 * SETTLE_LIMIT_MS }, () => {
  const ui = usePageHarness(3000);

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${ui.base}${path}`);
    assert.equal(response.status, 200, path);
    return (await response.json()) as T;
  };

  /** Opens the page at `query` and waits for the plan (and, when asked, the frontier) to settle. */
  async function open(query: string, frontier = false): Promise<void> {
    await ui.page.goto(`${ui.base}/?${query}`);
    await ui.page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]');
    assert.equal(
      await ui.page.getAttribute('#status', 'data-state'),
      'ready',
      (await ui.page.textContent('#status')) ?? '',
    );
    if (frontier) {
      await ui.page.waitForSelector('#frontier-status[data-state="ready"], #frontier-status[data-state="error"]');
      assert.equal(
        await ui.page.getAttribute('#frontier-status', 'data-state'),
        'ready',
        (await ui.page.textContent('#frontier-status')) ?? '',
      );
    }
  }

  /** The query of the page's own URL (history.replaceState reaches ui.page.url() only later). */
  const pageQuery = async (): Promise<URLSearchParams> =>
    new URLSearchParams(await ui.page.evaluate(() => location.search));

  const drawnCells = (): Promise<DrawnCell[]> =>
    ui.page.$$eval('#placement .head-cell', (cells) =>
      cells.map((cell) => {
        const d = (cell as HTMLElement).dataset;
        const style = getComputedStyle(cell);
        return {
          head: Number(d.head),
          group: Number(d.group),
          gpu: Number(d.gpu),
          colour: style.getPropertyValue('--group').trim(),
          background: style.backgroundColor,
        };
      }),
    );

  it('opens with the URL parameters and draws each GPU’s heads of the chosen layer as the API places them', async () => {
    const model = 'llama-3.1-8b-instruct-128k-minference';
    const lookup = 'gpus=4&granularity=query-head&unitsPerGpu=equal&phase=prefill&seqLen=65536&maxKvCacheFactor=1.5';
    await open(`model=${model}&${lookup}&layer=3`);
    for (const [id, value] of [
      ['model', model],
      ['gpus', '4'],
      ['phase', 'prefill'],
      ['seqLen', '65536'],
      ['maxKvCacheFactor', '1.5'],
      ['layer', '3'],
    ])
      assert.equal(await ui.page.inputValue(`#${id}`), value, id);
    const plan = await api<Plan>(`/v1/models/${model}/plan?${lookup}`);
    assert.equal(plan.maxKvCacheFactor, 1.5);
    const { queryHeads, kvHeads } = loadRegistry().resolve(model).architecture;
    const groupSize = queryHeads / kvHeads;
    const layer = plan.layers[3];

    const cells = await drawnCells();
    assert.equal(cells.length, queryHeads, 'one cell per query head');
    for (let g = 0; g < 4; g++) {
      const drawn = cells.filter((c) => c.gpu === g).map((c) => c.head);
      assert.deepEqual(
        drawn.sort((a, b) => a - b),
        [...layer.gpu2units[g]].sort((a, b) => a - b),
        `GPU ${g}`,
      );
    }
    for (const cell of cells) assert.equal(cell.group, Math.floor(cell.head / groupSize), `head ${cell.head}`);

    // One colour per KV group, the same in the cells and in the legend, and distinct between groups.
    const colourOf = new Map<number, string>();
    for (const cell of cells) {
      assert.equal(colourOf.get(cell.group) ?? cell.background, cell.background, `group ${cell.group} has one colour`);
      colourOf.set(cell.group, cell.background);
    }
    assert.equal(new Set(colourOf.values()).size, kvHeads, 'groups have distinct colours');
    const legend = await ui.page.$$eval('#group-legend li', (items) =>
      items.map((li) => ({
        group: Number((li as HTMLElement).dataset.group),
        background: getComputedStyle(li.querySelector('.swatch')!).backgroundColor,
        text: li.textContent,
      })),
    );
    assert.equal(legend.length, kvHeads);
    for (const item of legend) {
      assert.equal(item.background, colourOf.get(item.group), `legend of group ${item.group}`);
      assert.equal(
        item.text,
        `KV group ${item.group} (heads ${item.group * groupSize}–${(item.group + 1) * groupSize - 1})`,
      );
    }

    // KV heads stored per GPU: the plan's, beside contiguous placement's (heads [g*8, (g+1)*8): 2 groups each).
    const kv = await ui.page.$$eval('#placement tbody tr', (rows) =>
      rows.map((row) => [row.querySelector('.kv-plan')!.textContent, row.querySelector('.kv-contiguous')!.textContent]),
    );
    assert.deepEqual(
      kv,
      layer.kvHeadsPerGpu!.map((n) => [String(n), String(queryHeads / 4 / groupSize)]),
    );
    const planned = await ui.page.$$eval('#kv-chart rect.kv-plan', (bars) =>
      bars.map((bar) => Number((bar as SVGElement).dataset.value)),
    );
    assert.deepEqual(
      planned,
      [0, 1, 2, 3].map((g) => plan.layers.reduce((s, l) => s + l.kvHeadsPerGpu![g], 0)),
    );
    const contiguous = await ui.page.$$eval('#kv-chart rect.kv-contiguous', (bars) =>
      bars.map((bar) => Number((bar as SVGElement).dataset.value)),
    );
    assert.deepEqual(contiguous, new Array(4).fill((plan.layers.length * queryHeads) / 4 / groupSize));
    assert.equal((await ui.page.textContent('#kv-factor'))?.split(' ')[0], plan.totals.kvCacheFactor.toFixed(3));
  });

  it('draws the frontier the API answers, marks the cap on show and rings the plan on show', async () => {
    const query = 'gpus=4&granularity=query-head&unitsPerGpu=equal&phase=prefill&seqLen=131072';
    await open(`model=${FLAGSHIP_MODEL}&${query}&maxKvCacheFactor=1.25`, true);
    const frontier = await api<FrontierAnswer>(`/v1/models/${FLAGSHIP_MODEL}/frontier?${query}`);
    const drawn = await ui.page.$$eval('#frontier-chart circle.point', (points) =>
      points.map((p) => {
        const d = (p as SVGElement).dataset;
        return [d.cap, Number(d.factor), Number(d.speedup)];
      }),
    );
    assert.deepEqual(
      drawn,
      frontier.points
        .filter((p) => p.speedupVsContiguous !== null)
        .map((p) => [
          p.maxKvCacheFactor === null ? 'unlimited' : String(p.maxKvCacheFactor),
          p.kvCacheFactor,
          p.speedupVsContiguous,
        ]),
    );
    assert.equal(await ui.page.getAttribute('#frontier-chart line.cap-line', 'data-cap'), '1.25');
    assert.equal(await ui.page.locator('#frontier-chart circle.current').count(), 1);
    assert.equal(await ui.page.locator('#frontier-table tbody tr').count(), frontier.points.length);
  });

  it('puts a changed control in the URL at once, and redraws the grid for another layer', async () => {
    await open(`model=${FLAGSHIP_MODEL}&gpus=8&maxKvCacheFactor=unlimited`);
    await ui.page.selectOption('#layer', '5');
    assert.equal((await pageQuery()).get('layer'), '5');
    assert.equal(await ui.page.getAttribute('#placement', 'data-layer'), '5');
    const plan = await api<Plan>(`/v1/models/${FLAGSHIP_MODEL}/plan?gpus=8&maxKvCacheFactor=unlimited`);
    const cells = await drawnCells();
    for (let g = 0; g < 8; g++)
      assert.deepEqual(
        cells
          .filter((c) => c.gpu === g)
          .map((c) => c.head)
          .sort((a, b) => a - b),
        [...plan.layers[5].gpu2units[g]].sort((a, b) => a - b),
      );
    await ui.page.fill('#maxKvCacheFactor', '2');
    await ui.page.selectOption('#phase', 'decode');
    await ui.page.fill('#seqLen', '32768');
    const url = await pageQuery();
    assert.deepEqual(
      [url.get('maxKvCacheFactor'), url.get('phase'), url.get('seqLen'), url.get('model'), url.get('gpus')],
      ['2', 'decode', '32768', FLAGSHIP_MODEL, '8'],
    );
  });

  it('opens a decode plan from the URL, priced by the roofline, and draws its KV heads per GPU', async () => {
    const lookup = 'gpus=8&granularity=query-head&unitsPerGpu=equal&phase=decode&seqLen=131072&maxKvCacheFactor=1';
    await open(`model=${FLAGSHIP_MODEL}&${lookup}`);
    const plan = await api<Plan>(`/v1/models/${FLAGSHIP_MODEL}/plan?${lookup}`);
    assert.deepEqual(plan.workload, { phase: 'decode', seqLen: 131072 });
    const meta = (await ui.page.textContent('#plan-meta'))!;
    assert.ok(meta.startsWith('decode at 131072 tokens'), meta);
    assert.ok(meta.includes(`cost model ${plan.costModel.name}`), meta);
    const kv = await ui.page.$$eval('#placement .kv-plan', (cells) => cells.map((c) => Number(c.textContent)));
    assert.deepEqual(kv, plan.layers[0].kvHeadsPerGpu);
  });

  it('labels every control', async () => {
    for (const id of URL_PARAMS) assert.equal(await ui.page.locator(`label[for="${id}"]`).count(), 1, id);
  });
});
