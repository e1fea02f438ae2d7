/**
 * The page's re-plan view in a real browser (Debian's chromium through playwright-core): the
 * heads it outlines are exactly the moves the API answers for the same re-plan.
 * Without /usr/bin/chromium it is skipped, or fails when CI is set (test/requirements.ts).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { Plan } from '../../src/planner/plan.ts';
import { FLAGSHIP_MODEL as MODEL } from '../../src/profiles/flagship.ts';
import { CHROMIUM, describeRequiring } from '../requirements.ts';
import { SETTLE_LIMIT_MS, startPageHarness, type PageHarness } from './page-harness.ts';

describeRequiring(CHROMIUM, 'the re-plan view of the page', { timeout: 4 * SETTLE_LIMIT_MS }, () => {
  let harness: PageHarness;
  let base: string;
  let page: Page;

  before(async () => {
    harness = await startPageHarness(4000);
    ({ base, page } = harness);
  });

  after(() => harness?.close());

  it('outlines exactly the heads the re-plan moves, and summarises the moves', async () => {
    // Without a KV cap the prefill plan stores some KV groups on several GPUs; decode reads every
    // copy, so re-planned for decode (same length) it gathers groups back and moves heads.
    const query = 'gpus=8&granularity=query-head&unitsPerGpu=equal&maxKvCacheFactor=unlimited';
    await page.goto(`${base}/?model=${MODEL}&${query}`);
    await page.waitForSelector('#status[data-state="ready"]');
    await page.fill('#replan-seqLen', '131072');
    await page.selectOption('#replan-phase', 'decode');
    await page.fill('#replan-tolerance', '0');
    await page.click('#replan-show');
    await page.waitForSelector('#replan-result:not([hidden])');

    const running = (await (await fetch(`${base}/v1/models/${MODEL}/plan?${query}`)).json()) as Plan;
    const response = await fetch(
      `${base}/v1/models/${MODEL}/plan?${query}&seqLen=131072&phase=decode&previous=${running.id}&makespanTolerance=0`,
    );
    assert.equal(response.status, 200);
    const replan = (await response.json()) as Plan;
    const units = replan.layers[0].unit2gpu.length;
    assert.ok(replan.migration!.totals.movedUnits > 0, 'the drift moves some heads');
    assert.equal(await page.locator('#replan-heads .head').count(), replan.layers.length * units, 'one cell per head');
    const outlined = await page.$$eval('#replan-heads .head-row', (rows) =>
      rows.map((row) =>
        Array.from(row.querySelectorAll('.head')).flatMap((cell, unit) =>
          cell.classList.contains('moved') ? [unit] : [],
        ),
      ),
    );
    assert.deepEqual(
      outlined,
      replan.layers.map((l) => l.migration!.moves.map((m) => m.unit).sort((a, b) => a - b)),
    );
    assert.match(
      (await page.textContent('#replan-summary'))!,
      new RegExp(`^${replan.migration!.totals.movedUnits} of ${replan.layers.length * units} heads move`),
    );
  });
});
