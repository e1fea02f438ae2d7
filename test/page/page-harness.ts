/**
 * What the page tests share: the app on a loopback port with a one-worker solver pool, and
 * Debian's chromium driven by playwright-core with one page open.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.ts';
import { createCostModelResolver } from '../../src/cost/registry.ts';
import { buildApp } from '../../src/http/app.ts';
import { createSolverPool, type SolverPool } from '../../src/pool/solver-pool.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { STUCK_WORKER_MS } from '../http/helpers.ts';
import { CHROMIUM_PATH } from '../requirements.ts';

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

/**
 * Waits for the page are for events (its status turning ready or error); the limit, every page
 * wait's default, only stops a page that never settles, and leaves a busy 2-core machine several
 * minutes per solve.
 */
export const SETTLE_LIMIT_MS = 240_000;

export interface PageHarness {
  /** http://127.0.0.1:port of the app. */
  readonly base: string;
  readonly page: Page;
  /** Closes the browser, the server and the pool. */
  close(): Promise<void>;
}

/** Starts the app, whose plans solve for `timeLimitMs` by default, and a browser page. */
async function startPageHarness(timeLimitMs: number): Promise<PageHarness> {
  let pool: SolverPool | undefined;
  let server: Server | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await pool?.close();
  };
  try {
    // As in the HTTP tests: a worker busy past its deadline on a loaded machine is waited for, not
    // replaced by a greedy answer, so the plan drawn does not depend on the machine's load.
    pool = createSolverPool({ size: 1, graceMs: () => STUCK_WORKER_MS, planGraceMs: () => STUCK_WORKER_MS });
    await pool.ready();
    const hplb = buildApp({
      config: loadConfig({ DEFAULT_TIME_LIMIT_MS: String(timeLimitMs) }),
      runner: pool,
      registry: loadRegistry(),
      logger: pino({ level: 'silent' }),
      resolveCostModel: createCostModelResolver(),
    });
    server = await new Promise<Server>((resolve) => {
      const listening = hplb.app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.setDefaultTimeout(SETTLE_LIMIT_MS);
    return { base, page, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Starts the harness before the suite it is called in and closes it after; the returned view
 * reads the running harness (only inside tests and hooks, once it has started).
 */
export function usePageHarness(timeLimitMs: number): Pick<PageHarness, 'base' | 'page'> {
  let harness: PageHarness | undefined;
  before(async () => {
    harness = await startPageHarness(timeLimitMs);
  });
  after(() => harness?.close());
  const started = (): PageHarness => {
    if (!harness) throw new Error('the page harness has not started (use it inside tests and hooks)');
    return harness;
  };
  return {
    get base() {
      return started().base;
    },
    get page() {
      return started().page;
    },
  };
}
