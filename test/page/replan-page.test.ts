/**
 * The page's re-plan view in a real browser (Debian's chromium through playwright-core): the
 * heads it outlines are exactly the moves the API answers for the same re-plan.
 * Skipped when /usr/bin/chromium is absent.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.ts';
import { resolveCostModel } from '../../src/cost/registry.ts';
import { buildApp } from '../../src/http/app.ts';
import type { Plan } from '../../src/planner/plan.ts';
import { createSolverPool, type SolverPool } from '../../src/pool/solver-pool.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { STUCK_WORKER_MS } from '../http/helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed (apt-get install -y --no-install-recommends chromium)`;
const MODEL = 'llama-3-8b-instruct-262k-minference';

describe('the re-plan view of the page', { skip, timeout: 240_000 }, () => {
  let pool: SolverPool;
  let server: Server;
  let base: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    // As in the HTTP tests: a worker busy past its deadline on a loaded machine is waited for, not
    // replaced by a greedy answer, so the plan drawn does not depend on the machine's load.
    pool = createSolverPool({ size: 1, graceMs: () => STUCK_WORKER_MS, planGraceMs: () => STUCK_WORKER_MS });
    await pool.ready();
    const hplb = buildApp({
      config: loadConfig({ DEFAULT_TIME_LIMIT_MS: '4000' }),
      runner: pool,
      registry: loadRegistry(),
      logger: pino({ level: 'silent' }),
      resolveCostModel,
    });
    server = await new Promise<Server>((resolve) => {
      const listening = hplb.app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await pool?.close();
  });

  it('outlines exactly the heads the re-plan moves, and summarises the moves', async () => {
    await page.goto(`${base}/?model=${MODEL}&gpus=8&granularity=query-head&unitsPerGpu=equal`);
    // Two solves on a loaded machine: allow well beyond playwright's default of 30 s.
    await page.waitForSelector('#status[data-state="ready"]', { timeout: 90_000 });
    await page.fill('#replan-seqLen', '4096');
    await page.fill('#replan-tolerance', '0');
    await page.click('#replan-show');
    await page.waitForSelector('#replan-result:not([hidden])', { timeout: 90_000 });

    const running = (await (
      await fetch(`${base}/v1/models/${MODEL}/plan?gpus=8&granularity=query-head&unitsPerGpu=equal`)
    ).json()) as Plan;
    const response = await fetch(
      `${base}/v1/models/${MODEL}/plan?gpus=8&granularity=query-head&unitsPerGpu=equal&seqLen=4096&phase=prefill&previous=${running.id}&makespanTolerance=0`,
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
