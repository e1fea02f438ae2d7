/**
 * The plan page in a real browser: the app on a free port with a solver pool, Debian's chromium
 * driven by playwright-core. Checks that what the page draws matches the plan the API returns.
 * Without /usr/bin/chromium it is skipped, or fails when CI is set (test/requirements.ts).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, it } from 'node:test';
import type { Plan } from '../../src/planner/plan.ts';
import { FLAGSHIP_MODEL } from '../../src/profiles/flagship.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { CHROMIUM, describeRequiring } from '../requirements.ts';
import { SETTLE_LIMIT_MS, usePageHarness } from './page-harness.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/', import.meta.url));

/** What a plan should look like on the page, computed from the API's answer the way a reader would. */
function expectedText(plan: Plan): { speedup: string; statuses: string; proven: string } {
  const counts = new Map<string, number>();
  for (const layer of plan.layers) counts.set(layer.status, (counts.get(layer.status) ?? 0) + 1);
  return {
    speedup: `${plan.totals.speedupVsContiguous!.toFixed(3)}×`,
    statuses: [...counts]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([status, n]) => `${status} ${n}`)
      .join(', '),
    proven: `${plan.totals.layersProvenOptimal} of ${plan.layers.length}`,
  };
}

describeRequiring(CHROMIUM, 'the plan page', { timeout: 20 * SETTLE_LIMIT_MS }, () => {
  // Short plans (3 s, as in the HTTP tests): what the page draws does not depend on how long it solved.
  const ui = usePageHarness(3000);

  before(() => {
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  /** Picks a model, GPU count and granularity, submits, and waits for the page to settle. */
  async function choose(model: string, gpus: number, granularity = 'query-head'): Promise<string> {
    await ui.page.selectOption('#model', model);
    await ui.page.selectOption('#granularity', granularity);
    await ui.page.fill('#gpus', String(gpus));
    await ui.page.click('#show');
    await ui.page.waitForFunction(
      ({ gpus }) => {
        const status = document.getElementById('status')!;
        return (
          status.dataset.state === 'error' ||
          (status.dataset.state === 'ready' && status.textContent!.includes(`on ${gpus} GPUs`))
        );
      },
      { gpus },
    );
    return (await ui.page.getAttribute('#status', 'data-state'))!;
  }

  async function apiPlan(model: string, gpus: number, granularity = 'query-head'): Promise<Plan> {
    const response = await fetch(
      `${ui.base}/v1/models/${model}/plan?gpus=${gpus}&granularity=${granularity}&unitsPerGpu=equal`,
    );
    assert.equal(response.status, 200);
    return (await response.json()) as Plan;
  }

  /** Every drawn load bar as [layer, gpu]. */
  const drawnBars = (): Promise<[number, number][]> =>
    ui.page.$$eval('#loads-chart rect.load', (rects) =>
      rects.map(
        (r) => [Number((r as SVGElement).dataset.layer), Number((r as SVGElement).dataset.gpu)] as [number, number],
      ),
    );

  it('opens on the flagship model and lists every model of the registry', async () => {
    await ui.page.goto(`${ui.base}/`);
    await ui.page.waitForSelector('#status[data-state="ready"]');
    const options = await ui.page.$$eval('#model option', (els) => els.map((e) => (e as HTMLOptionElement).value));
    assert.deepEqual(
      options,
      loadRegistry()
        .list()
        .map((p) => p.id),
    );
    assert.equal(
      await ui.page.inputValue('#model'),
      FLAGSHIP_MODEL,
      "public/app.js opens on src/profiles/flagship.ts's model",
    );
  });

  const cases: { model: string; gpus: number; granularity?: string }[] = [
    { model: 'llama-3.1-8b-instruct-128k-minference', gpus: 4 },
    { model: 'qwen2.5-14b-instruct-1m-minference', gpus: 8 },
    { model: 'llama-3-8b-instruct-262k-minference', gpus: 4, granularity: 'kv-group' },
  ];
  for (const { model, gpus, granularity = 'query-head' } of cases) {
    it(`draws what the API returns for ${model} on ${gpus} GPUs (${granularity})`, async () => {
      assert.equal(await choose(model, gpus, granularity), 'ready');
      const plan = await apiPlan(model, gpus, granularity);
      const layers = plan.layers.length;

      assert.equal(await ui.page.getAttribute('#loads-chart svg', 'data-layers'), String(layers));
      assert.equal(await ui.page.getAttribute('#loads-chart svg', 'data-gpus'), String(plan.gpus.count));
      const bars = await drawnBars();
      assert.equal(bars.length, layers * plan.gpus.count, 'one bar per layer and GPU');
      assert.equal(new Set(bars.map(([l]) => l)).size, layers);
      assert.equal(new Set(bars.map(([, g]) => g)).size, plan.gpus.count);
      assert.equal(await ui.page.locator('#loads-chart line.makespan').count(), layers, 'one makespan line per layer');
      assert.equal(
        await ui.page.locator('#bubbles-chart rect.plan-bubble').count(),
        layers,
        'one bubble bar per layer',
      );
      assert.equal(await ui.page.locator('#layers-table tbody tr').count(), layers);

      const expected = expectedText(plan);
      assert.equal(await ui.page.textContent('#speedup'), expected.speedup);
      assert.equal(await ui.page.textContent('#statuses'), expected.statuses);
      assert.equal((await ui.page.textContent('#proven'))?.replace(/\s+/g, ' '), expected.proven);
      assert.ok((await ui.page.textContent('#gap'))!.startsWith(`${(plan.totals.gap * 100).toFixed(4)}%`));
      assert.ok((await ui.page.textContent('#plan-heading'))!.includes(`${gpus} GPUs`));
      assert.ok(
        (await ui.page.getAttribute('#loads-chart svg', 'aria-label'))!.includes(`${layers} layers on ${gpus} GPUs`),
      );
      await ui.page.screenshot({ path: `${SCREENSHOTS}plan-page-${model}-${gpus}-${granularity}.png`, fullPage: true });
    });
  }

  it("draws each split head across its GPUs: one segment per part, a line joining each head's parts", async () => {
    // A part stores its head's KV group on its GPU: splits need a KV-cache cap above the default.
    await ui.page.fill('#splitHeads', '3');
    await ui.page.fill('#maxKvCacheFactor', 'unlimited');
    assert.equal(await choose('llama-3-8b-instruct-262k-minference', 4), 'ready');
    await ui.page.fill('#splitHeads', '0');
    await ui.page.fill('#maxKvCacheFactor', '1');
    const response = await fetch(
      `${ui.base}/v1/models/llama-3-8b-instruct-262k-minference/plan?gpus=4&granularity=query-head&unitsPerGpu=equal&splitHeads=3&maxKvCacheFactor=unlimited`,
    );
    const plan = (await response.json()) as Plan;
    const parts = plan.layers.flatMap((layer, l) => layer.parts!.map((p) => `${l}/${p.unit}/${p.gpu}`)).sort();
    assert.ok(parts.length > 0, 'the plan splits some heads');
    const layer = plan.layers.findIndex((l) => l.parts!.length > 0);
    await ui.page.selectOption('#layer', String(layer));
    const cells = await ui.page.$$eval('#placement .head-cell.part', (spans) =>
      spans.map((span) => `${(span as HTMLElement).dataset.head}/${(span as HTMLElement).dataset.gpu}`),
    );
    assert.deepEqual(
      cells.sort(),
      plan.layers[layer].parts!.map((p) => `${p.unit}/${p.gpu}`).sort(),
      'the grid shows each part on its GPU',
    );
    const drawn = await ui.page.$$eval('#loads-chart rect.part', (rects) =>
      rects.map((r) => {
        const d = (r as SVGElement).dataset;
        return `${d.layer}/${d.unit}/${d.gpu}`;
      }),
    );
    assert.deepEqual(drawn.sort(), parts);
    const links = plan.layers.reduce((s, layer) => s + layer.parts!.length - layer.splitHeads!, 0);
    assert.equal(await ui.page.locator('#loads-chart line.split-link').count(), links);
    assert.equal((await ui.page.textContent('#split-heads'))?.split(' ')[0], String(plan.totals.splitHeads));
    await ui.page.screenshot({ path: `${SCREENSHOTS}plan-page-split-heads.png`, fullPage: true });
  });

  it('shows the problem detail when the API refuses the request, and hides the old plan', async () => {
    assert.equal(await choose('llama-3-8b-instruct-262k-minference', 3), 'error');
    const problem = (await (
      await fetch(
        `${ui.base}/v1/models/llama-3-8b-instruct-262k-minference/plan?gpus=3&granularity=query-head&unitsPerGpu=equal`,
      )
    ).json()) as { title: string; detail: string };
    assert.equal(await ui.page.textContent('#status'), `${problem.title}: ${problem.detail}`);
    assert.equal(await ui.page.isHidden('#plan'), true);
    await ui.page.screenshot({ path: `${SCREENSHOTS}plan-page-error.png`, fullPage: true });
  });

  it('has a status line for assistive technology', async () => {
    assert.equal(await ui.page.getAttribute('#status', 'role'), 'status');
    assert.equal(await ui.page.getAttribute('#frontier-status', 'role'), 'status');
  });
});
