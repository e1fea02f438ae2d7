/**
 * The service's configuration, read from the environment in this one place, validated and frozen.
 * Nothing else reads process.env: server.ts passes it here, tests pass plain objects.
 */
import { availableParallelism } from 'node:os';

export interface Config {
  /** TCP port to listen on (0: any free port). */
  readonly port: number;
  readonly host: string;
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  readonly logLevel: string;
  /** Solver worker threads. */
  readonly solverWorkers: number;
  /** Most plans kept in memory (by id, and again by per-model lookup key). */
  readonly cacheMaxEntries: number;
  /** How long a cached plan is served, ms; also the Cache-Control max-age of lookups. */
  readonly cacheTtlMs: number;
  /** Largest request body accepted, bytes (413 above). */
  readonly maxBodyBytes: number;
  /** Largest units x GPUs x layers accepted (422 PROBLEM_TOO_LARGE above). */
  readonly maxProblemSize: number;
  /** Requested solver time limits are clamped to this, ms. */
  readonly maxTimeLimitMs: number;
  /** Plan time limit when the request names none, ms. */
  readonly defaultTimeLimitMs: number;
  /** Plans solved at once; further plans wait in the queue. */
  readonly maxConcurrentPlans: number;
  /** Plans waiting for a slot; beyond this, 503 QUEUE_FULL. */
  readonly maxQueuedPlans: number;
  /** Longest a graceful shutdown waits for in-flight requests, ms. */
  readonly drainTimeoutMs: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

interface IntSpec {
  readonly key: keyof Config;
  readonly env: string;
  readonly fallback: number;
  readonly min: number;
  readonly max?: number;
}

const INTEGERS: readonly IntSpec[] = [
  { key: 'port', env: 'PORT', fallback: 8080, min: 0, max: 65535 },
  { key: 'solverWorkers', env: 'SOLVER_WORKERS', fallback: Math.max(1, availableParallelism() - 1), min: 1, max: 256 },
  { key: 'cacheMaxEntries', env: 'CACHE_MAX_ENTRIES', fallback: 512, min: 1 },
  { key: 'cacheTtlMs', env: 'CACHE_TTL_MS', fallback: 3_600_000, min: 1 },
  { key: 'maxBodyBytes', env: 'MAX_BODY_BYTES', fallback: 2 * 1024 * 1024, min: 1024 },
  { key: 'maxProblemSize', env: 'MAX_PROBLEM_SIZE', fallback: 262_144, min: 1 },
  { key: 'maxTimeLimitMs', env: 'MAX_TIME_LIMIT_MS', fallback: 60_000, min: 1 },
  { key: 'defaultTimeLimitMs', env: 'DEFAULT_TIME_LIMIT_MS', fallback: 10_000, min: 1 },
  { key: 'maxConcurrentPlans', env: 'MAX_CONCURRENT_PLANS', fallback: 2, min: 1 },
  { key: 'maxQueuedPlans', env: 'MAX_QUEUED_PLANS', fallback: 16, min: 0 },
  { key: 'drainTimeoutMs', env: 'DRAIN_TIMEOUT_MS', fallback: 30_000, min: 0 },
];

/**
 * Builds the configuration from environment variables (PORT, HOST, LOG_LEVEL, SOLVER_WORKERS,
 * CACHE_MAX_ENTRIES, CACHE_TTL_MS, MAX_BODY_BYTES, MAX_PROBLEM_SIZE, MAX_TIME_LIMIT_MS,
 * DEFAULT_TIME_LIMIT_MS, MAX_CONCURRENT_PLANS, MAX_QUEUED_PLANS, DRAIN_TIMEOUT_MS); unset or
 * empty variables take the defaults. Throws one Error listing every invalid variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = {}): Readonly<Config> {
  const problems: string[] = [];
  const values: Record<string, number | string> = {};
  for (const spec of INTEGERS) {
    const text = env[spec.env]?.trim();
    if (text === undefined || text === '') {
      values[spec.key] = spec.fallback;
      continue;
    }
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    const max = spec.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(value) || value < spec.min || value > max) {
      problems.push(`${spec.env}=${JSON.stringify(text)} must be an integer in ${spec.min}..${max}`);
    }
    values[spec.key] = value;
  }
  const host = env.HOST?.trim() || '0.0.0.0';
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} must be one of ${LOG_LEVELS.join(', ')}`);
  const config = { ...values, host, logLevel } as unknown as Config;
  if (problems.length === 0 && config.defaultTimeLimitMs > config.maxTimeLimitMs) {
    problems.push(`DEFAULT_TIME_LIMIT_MS (${config.defaultTimeLimitMs}) must not exceed MAX_TIME_LIMIT_MS (${config.maxTimeLimitMs})`);
  }
  if (problems.length > 0) throw new Error(`invalid configuration: ${problems.join('; ')}`);
  return Object.freeze(config);
}
