/**
 * The page's re-plan view in a real browser (Debian's chromium through playwright-core): the
 * heads it outlines are exactly the moves the API answers for the same re-plan.
 * Without /usr/bin/chromium it is skipped, or fails when CI is set (test/requirements.ts).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Plan } from '../../src/planner/plan.ts';
import { FLAGSHIP_MODEL as MODEL } from '../../src/profiles/flagship.ts';
import { CHROMIUM, describeRequiring } from '../requirements.ts';
import { SETTLE_LIMIT_MS, usePageHarness } from './page-harness.ts';

describeRequiring(CHROMIUM, 'the re-plan view of the page', { timeout: 4 * SETTLE_LIMIT_MS }, () => {
  const ui = usePageHarness(4000);

  it('outlines exactly the heads the re-plan moves, and summarises the moves', async () => {
    // Without a KV cap the prefill plan stores some KV groups on several GPUs; decode reads every
    // copy, so re-planned for decode (same length) it gathers groups back and moves heads.
    const query = 'gpus=8&granularity=query-head&unitsPerGpu=equal&maxKvCacheFactor=unlimited';
    await ui.page.goto(`${ui.base}/?model=${MODEL}&${query}`);
    await ui.page.waitForSelector('#status[data-state="ready"]');
    await ui.page.fill('#replan-seqLen', '131072');
    await ui.page.selectOption('#replan-phase', 'decode');
    await ui.page.fill('#replan-tolerance', '0');
    await ui.page.click('#replan-show');
    await ui.page.waitForSelector('#replan-result:not([hidden])');

    const running = (await (await fetch(`${ui.base}/v1/models/${MODEL}/plan?${query}`)).json()) as Plan;
    const response = await fetch(
      `${ui.base}/v1/models/${MODEL}/plan?${query}&seqLen=131072&phase=decode&previous=${running.id}&makespanTolerance=0`,
    );
    assert.equal(response.status, 200);
    const replan = (await response.json()) as Plan;
    const units = replan.layers[0].unit2gpu.length;
    assert.ok(replan.migration!.totals.movedUnits > 0, 'the drift moves some heads');
    assert.equal(
      await ui.page.locator('#replan-heads .head').count(),
      replan.layers.length * units,
      'one cell per head',
    );
    const outlined = await ui.page.$$eval('#replan-heads .head-row', (rows) =>
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
      (await ui.page.textContent('#replan-summary'))!,
      new RegExp(`^${replan.migration!.totals.movedUnits} of ${replan.layers.length * units} heads move`),
    );
  });
});
