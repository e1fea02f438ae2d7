/**
 * Two replicas of the service on one real Redis: two apps, each with its own solver pool and its
 * own store connection (REDIS_URL in their configuration), driven over HTTP with supertest; and
 * what the tests read across both: /readyz's store check, metrics summed over both.
 */
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Express } from 'express';
import request from 'supertest';
import type { SolverRunner } from '../../src/http/app.ts';
import type { StoreState } from '../../src/store/plan-store.ts';
import type { SolverPool } from '../../src/pool/solver-pool.ts';
import { type RedisServer, startRedisServer } from '../store/redis-server.ts';
import { metricValue, overRunner, startTestApp, type TestApp } from './helpers.ts';

/**
 * Settings for replicas on a busy machine: commands that time out would be counted misses and
 * dropped writes, which change what a test checks (the fault tests stop Redis instead), and a lease
 * renewed every second survives two-second stalls of this process.
 */
export const REPLICA_ENV: Readonly<Record<string, string>> = Object.freeze({
  REDIS_COMMAND_TIMEOUT_MS: '5000',
  REDIS_CONNECT_TIMEOUT_MS: '5000',
  REDIS_LEASE_MS: '3000',
});

/** The environment of replicas of one deployment on `redis`: its URL and a key prefix of their own. */
export function replicaEnv(redis: RedisServer, env: Record<string, string> = {}): Record<string, string> {
  return { ...REPLICA_ENV, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `test-${randomUUID()}:`, ...env };
}

/** Two replicas on the same Redis and key prefix; `wrap` as in startTestApp, per replica. */
export async function startReplicas(
  env: Record<string, string>,
  wrap: (pool: SolverPool, replica: 'a' | 'b') => SolverRunner = (pool) => pool,
): Promise<{ a: TestApp; b: TestApp }> {
  const [a, b] = await Promise.all([
    startTestApp(env, 1, null, (pool) => wrap(pool, 'a')),
    startTestApp(env, 1, null, (pool) => wrap(pool, 'b')),
  ]);
  await Promise.all([untilStore(a.app, 'ok'), untilStore(b.app, 'ok')]);
  return { a, b };
}

/**
 * Two replicas for the enclosing suite on `redis` (replicaEnv's key prefix, `env`, `wrap`): started
 * by the suite's `before` and closed after it; `a` and `b` are set once `before` has run.
 */
export function suiteReplicas(
  redis: { readonly server: RedisServer },
  env: Record<string, string> = {},
  wrap?: (pool: SolverPool, replica: 'a' | 'b') => SolverRunner,
): { readonly a: TestApp; readonly b: TestApp } {
  const replicas = {} as { a: TestApp; b: TestApp };
  before(async () => {
    Object.assign(replicas, await startReplicas(replicaEnv(redis.server, env), wrap));
  });
  after(async () => {
    await Promise.all([replicas.a?.close(), replicas.b?.close()]);
  });
  return replicas;
}

/** Resolves once /readyz says the store is `state` (asked every 10 ms; nothing is timed). */
export async function untilStore(app: Express, state: StoreState): Promise<void> {
  while ((await request(app).get('/readyz')).body.checks?.store !== state) await sleep(10);
}

/** A metric summed over the replicas' /metrics. */
export async function summed(apps: readonly TestApp[], name: string, labels: Record<string, string> = {}) {
  const texts = await Promise.all(apps.map(async (t) => (await request(t.app).get('/metrics')).text));
  return texts.reduce((total, text) => total + metricValue(text, name, labels), 0);
}

/** Resolves once the metric, summed over the replicas, reaches `atLeast` (asked every 10 ms). */
export async function untilSummed(apps: readonly TestApp[], name: string, atLeast: number): Promise<void> {
  while ((await summed(apps, name)) < atLeast) await sleep(10);
}

/** The runner without the test pool's generous plan grace: a plan's deadline is its time limit, as in service. */
export const withoutPlanGrace = (inner: SolverRunner): SolverRunner => overRunner(inner, { planGraceMs: () => 0 });

/** A redis-server for the enclosing suite: `redis.server` is set once the suite's `before` has run. */
export function suiteRedis(): { readonly server: RedisServer } {
  const redis = {} as { server: RedisServer };
  before(async () => {
    redis.server = await startRedisServer();
  });
  after(async () => {
    await redis.server?.stop();
  });
  return redis;
}
