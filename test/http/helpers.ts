/**
 * Shared set-up for the HTTP tests: the real app on a real solver pool (GLPK workers), a quiet
 * logger (or one that records lines), and validators of response bodies built from openapi.yaml.
 */
import { requestLimitsOf } from '../../src/planner/limits.ts';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before } from 'node:test';
import type { Express } from 'express';
import { pino, type Logger } from 'pino';
import request from 'supertest';
import { loadConfig, type Config } from '../../src/config.ts';
import { createCostModelResolver } from '../../src/cost/registry.ts';
import { buildApp, type AppDeps, type HplbApp, type SolverRunner } from '../../src/http/app.ts';
import { createBodyPool, type BodyPool, type BodyPoolOptions } from '../../src/http/body-pool.ts';
import { loadSpec } from '../../src/contract/openapi.ts';
import { createValidators } from '../../src/contract/validation.ts';
import { createSolverPool, type SolverPool } from '../../src/pool/solver-pool.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';

export const SMALL_MODEL = 'llama-3-8b-instruct-262k-minference';

/** How long past its time limit a test pool's worker (or plan) may run before it counts as stuck (or is cut). */
export const STUCK_WORKER_MS = 60_000;

const spec = loadSpec();
const validators = createValidators(spec.document);
const registry = loadRegistry();

/** Fails the test unless `body` matches the named component schema of openapi.yaml. */
export function assertSchema(name: string, body: unknown): void {
  const validate = validators.schema(name);
  assert.ok(validate(body), `${name}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
}

/** Checks an error answer: status, problem+json media type, Problem schema, code. */
export function assertProblem(
  res: { status: number; headers: Record<string, string>; body: unknown },
  status: number,
  code: string,
): Record<string, unknown> {
  assert.equal(res.status, status, JSON.stringify(res.body).slice(0, 400));
  assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
  assertSchema('Problem', res.body);
  const problem = res.body as Record<string, unknown>;
  assert.equal(problem.code, code, String(problem.detail));
  assert.equal(problem.status, status);
  return problem;
}

/** What a test app's configuration sets unless a test says otherwise. */
export const TEST_APP_ENV: Readonly<Record<string, string>> = Object.freeze({
  DEFAULT_TIME_LIMIT_MS: '3000',
  // No rate limit unless a test asks for one: suites send far more than a client's quota.
  RATE_LIMIT_MAX: '0',
});

export interface TestApp {
  readonly hplb: HplbApp;
  /** The Express app, for supertest. */
  readonly app: Express;
  readonly pool: SolverPool;
  readonly config: Config;
  /** Log lines written so far, parsed. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * The app on a fresh pool of `workers` GLPK workers, config defaults overridden by `env`, no page
 * unless `publicDir`; `wrap` puts something between the app and the pool (e.g. holdRunner);
 * `extra` adds dependencies (e.g. a body pool).
 */
export async function startTestApp(
  env: Record<string, string> = {},
  workers = 1,
  publicDir: string | null = null,
  wrap: (pool: SolverPool) => SolverRunner = (pool) => pool,
  extra: Pick<AppDeps, 'bodyPool'> = {},
): Promise<TestApp> {
  const config = loadConfig({ ...TEST_APP_ENV, ...env });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger: Logger = pino({ level: 'info' }, sink);
  let hplb: HplbApp | undefined;
  // On a loaded machine a worker thread can wait seconds for a CPU; the watchdog (tested in
  // test/pool) then replaces it only when it is stuck, so answers never depend on the machine's load.
  const pool = createSolverPool({
    size: workers,
    graceMs: () => STUCK_WORKER_MS,
    planGraceMs: () => STUCK_WORKER_MS,
    onWorkerRestart: (reason) => hplb?.workerRestarted(reason),
  });
  await pool.ready();
  hplb = buildApp({
    config,
    runner: wrap(pool),
    registry,
    logger,
    resolveCostModel: createCostModelResolver(),
    publicDir,
    ...extra,
  });
  const close = async (): Promise<void> => {
    await Promise.all([pool.close(), hplb.store.close()]);
  };
  return { hplb, app: hplb.app, pool, config, logs, close };
}

/** One body worker with the request limits of `env`'s configuration; `options` overrides the rest. */
export function testBodyPool(
  env: Record<string, string>,
  options: Partial<Omit<BodyPoolOptions, 'data'>> = {},
): BodyPool {
  const config = loadConfig(env);
  return createBodyPool({
    size: 1,
    maxQueued: 8,
    timeLimitMs: 60_000,
    data: { limits: requestLimitsOf(config), maxBodyContainers: config.maxBodyContainers },
    ...options,
  });
}

/**
 * The same app twice, without a body pool and with one, for answers that must not depend on it;
 * started before the suite and closed after it (the fields are set once `before` has run).
 */
export function appsWithAndWithoutBodyPool(env: Record<string, string>): { inThread: TestApp; offloaded: TestApp } {
  const apps = {} as { inThread: TestApp; offloaded: TestApp };
  let pool: BodyPool;
  before(async () => {
    pool = testBodyPool(env);
    await pool.ready();
    apps.inThread = await startTestApp(env);
    apps.offloaded = await startTestApp(env, 1, null, undefined, { bodyPool: pool });
  });
  after(async () => {
    await Promise.all([apps.inThread.close(), apps.offloaded.close(), pool.close()]);
  });
  return apps;
}

/** A runner whose tasks wait at a gate the test opens, so a plan holds its slot for as long as the test needs. */
export interface HeldRunner extends SolverRunner {
  /** Resolves when the first task has reached the gate. */
  readonly arrived: Promise<void>;
  /** Opens the gate: held and later tasks go on to the real runner. */
  release(): void;
}

export function holdRunner(inner: SolverRunner): HeldRunner {
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const run: SolverRunner['run'] = async (task, options) => {
    arrive();
    await gate;
    return inner.run(task, options);
  };
  return Object.assign(overRunner(inner, { run }), { arrived, release });
}

/** A runner that is `inner` but for what `override` replaces. */
export function overRunner(inner: SolverRunner, override: Partial<SolverRunner>): SolverRunner {
  return {
    concurrency: inner.concurrency,
    get queueDepth() {
      return inner.queueDepth;
    },
    get busy() {
      return inner.busy;
    },
    isReady: () => inner.isReady(),
    planGraceMs: (timeLimitMs) => inner.planGraceMs?.(timeLimitMs) ?? 0,
    run: (task, options) => inner.run(task, options),
    ...override,
  };
}

/** The value of one sample of a metric in Prometheus text, 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      total += Number(m[3]);
      found = true;
    }
  }
  return found ? total : 0;
}

/** Polls /metrics (a round trip each time, no sleeps) until the metric reaches `atLeast`. */
export async function untilMetric(app: Express, name: string, atLeast: number): Promise<void> {
  let value = 0;
  while (value < atLeast) value = metricValue((await request(app).get('/metrics')).text, name);
}

/** A tiny explicit cost matrix request: 2 layers x 4 heads on 2 GPUs. */
export function tinyRequest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    costs: [
      [4, 3, 2, 1],
      [1, 1, 1, 5],
    ],
    gpus: { count: 2 },
    ...extra,
  };
}

/**
 * A request whose solve takes about `ms`: one layer of 40 distinct pseudo-random costs on 8
 * GPUs, which GLPK's ILP does not prove within the limit (it stops at it). `seed` varies the costs,
 * so different seeds give different plans.
 */
export function slowRequest(ms: number, seed = 7): Record<string, unknown> {
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const costs = [Array.from({ length: 40 }, () => Math.round(1000 + next() * 9000))];
  return { costs, gpus: { count: 8 }, solver: { engine: 'ilp', timeLimitMs: ms, layerTimeLimitMs: ms } };
}
