/**
 * The service's configuration, read from the environment in this one place, validated and frozen.
 * Nothing else reads process.env: server.ts passes it here, tests pass plain objects.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { DEFAULT_LIMITS, type RequestLimits } from './planner/limits.ts';
import { REDIS_STORE_DEFAULTS } from './store/redis-options.ts';

/** The request bounds (422 PROBLEM_TOO_LARGE above each) come from planner/limits.ts. */
export interface Config extends RequestLimits {
  /** TCP port to listen on (0: any free port). */
  readonly port: number;
  readonly host: string;
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  readonly logLevel: string;
  /** Solver worker threads. */
  readonly solverWorkers: number;
  /** Most plans kept in memory (by id, and again by per-model lookup key). */
  readonly cacheMaxEntries: number;
  /** Most bytes of plan bodies kept in memory; the least recently used plans are evicted above it. */
  readonly cacheMaxBytes: number;
  /** Most bytes held by the memo of validated per-model lookup URLs. */
  readonly urlMemoMaxBytes: number;
  /** How long a cached plan is served, ms; also the Cache-Control max-age of lookups. */
  readonly cacheTtlMs: number;
  /** Largest request body accepted, bytes (413 above). */
  readonly maxBodyBytes: number;
  /** Most arrays and objects in a request body (413 above), checked before it is parsed. */
  readonly maxBodyContainers: number;
  /** Plans solved at once; further plans wait in the queue. */
  readonly maxConcurrentPlans: number;
  /** Plans waiting for a slot; beyond this, 503 QUEUE_FULL. */
  readonly maxQueuedPlans: number;
  /** Longest a graceful shutdown waits for in-flight requests, ms. */
  readonly drainTimeoutMs: number;
  /** Bearer keys accepted on POST routes and /metrics; empty: no authentication. */
  readonly apiKeys: readonly string[];
  /** With keys set, whether GET routes of plans and models also need one (probes never do). */
  readonly authReads: boolean;
  /** POST requests one client may make per window (429 above); 0: no rate limit. */
  readonly rateLimitMax: number;
  readonly rateLimitWindowMs: number;
  /** Longest a client may take to send the request headers, ms (server.headersTimeout). */
  readonly headersTimeoutMs: number;
  /** Longest a client may take to send the whole request, ms (server.requestTimeout). */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept, ms (server.keepAliveTimeout). */
  readonly keepAliveTimeoutMs: number;
  /** Most open connections; further ones are closed at once (server.maxConnections). */
  readonly maxConnections: number;
  /** Most requests served on one connection before it is closed (server.maxRequestsPerSocket). */
  readonly maxRequestsPerSocket: number;
  /**
   * Most response bytes a connection may leave unread (pipelined requests whose answers the
   * client does not read); past it the connection is closed instead of buffering more.
   */
  readonly maxUnreadBytes: number;
  /** Most requests one connection may have waiting for their answers; past it the connection is closed. */
  readonly maxPipelinedRequests: number;
  /** Warm solver workers kept beside the pool, to take over at once from one that overruns. */
  readonly spareWorkers: number;
  /** Threads that parse, validate and normalise large bodies (0: every body on the event loop). */
  readonly bodyWorkers: number;
  /** Bodies above this many bytes (or of unknown length) are handled by a body worker. */
  readonly bodyWorkerThresholdBytes: number;
  /** Large bodies waiting for a body worker; past it 503 QUEUE_FULL. */
  readonly maxQueuedBodies: number;
  /** Most time a body worker may spend on one body, ms; past it the worker is replaced and the request refused. */
  readonly bodyTimeLimitMs: number;
  /**
   * Which proxies' X-Forwarded-For to believe (Express's `trust proxy`): false, the number of
   * proxies in front, or their addresses and subnets. Rate limits key on the client it gives.
   */
  readonly trustProxy: false | number | readonly string[];
  /** The Redis that replicas share plans, leases and rate limits through; null: the memory store. */
  readonly redisUrl: string | null;
  /** Prefix of every Redis key and channel, so that deployments can share one Redis. */
  readonly redisKeyPrefix: string;
  /** Longest one Redis command may take, ms (a fault past it: a miss, a dropped write, a local count). */
  readonly redisCommandTimeoutMs: number;
  /** Longest a connection attempt to Redis may take, ms. */
  readonly redisConnectTimeoutMs: number;
  /** Lease period of a solve across replicas, ms: what a replica that dies mid-solve costs the others. */
  readonly redisLeaseMs: number;
}

const MIB = 1024 * 1024;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The configuration's integers: every one comes from an environment variable. */
type IntKey = { [K in keyof Config]: Config[K] extends number ? K : never }[keyof Config];

interface IntSpec {
  readonly env: string;
  readonly fallback: number;
  readonly min: number;
  readonly max?: number;
}

/** One spec per integer of Config (the type checks that none is missing). */
const INTEGERS: Readonly<Record<IntKey, IntSpec>> = {
  port: { env: 'PORT', fallback: 8080, min: 0, max: 65535 },
  solverWorkers: { env: 'SOLVER_WORKERS', fallback: Math.max(1, availableParallelism() - 1), min: 1, max: 256 },
  cacheMaxEntries: { env: 'CACHE_MAX_ENTRIES', fallback: 512, min: 1 },
  cacheMaxBytes: { env: 'CACHE_MAX_BYTES', fallback: 64 * MIB, min: 1024 },
  urlMemoMaxBytes: { env: 'URL_MEMO_MAX_BYTES', fallback: 4 * MIB, min: 1024 },
  cacheTtlMs: { env: 'CACHE_TTL_MS', fallback: 3_600_000, min: 1 },
  maxBodyBytes: { env: 'MAX_BODY_BYTES', fallback: 2 * 1024 * 1024, min: 1024 },
  maxBodyContainers: { env: 'MAX_BODY_CONTAINERS', fallback: 100_000, min: 16 },
  maxProblemSize: { env: 'MAX_PROBLEM_SIZE', fallback: DEFAULT_LIMITS.maxProblemSize, min: 1 },
  maxLayers: { env: 'MAX_LAYERS', fallback: DEFAULT_LIMITS.maxLayers, min: 1 },
  maxUnits: { env: 'MAX_UNITS', fallback: DEFAULT_LIMITS.maxUnits, min: 1 },
  maxLayerUnits: { env: 'MAX_LAYER_UNITS', fallback: DEFAULT_LIMITS.maxLayerUnits, min: 1 },
  maxPins: { env: 'MAX_PINS', fallback: DEFAULT_LIMITS.maxPins, min: 0 },
  maxPlanBytes: { env: 'MAX_PLAN_BYTES', fallback: DEFAULT_LIMITS.maxPlanBytes, min: 1024 },
  maxTimeLimitMs: { env: 'MAX_TIME_LIMIT_MS', fallback: DEFAULT_LIMITS.maxTimeLimitMs, min: 1 },
  defaultTimeLimitMs: { env: 'DEFAULT_TIME_LIMIT_MS', fallback: DEFAULT_LIMITS.defaultTimeLimitMs, min: 1 },
  maxConcurrentPlans: { env: 'MAX_CONCURRENT_PLANS', fallback: 2, min: 1 },
  maxQueuedPlans: { env: 'MAX_QUEUED_PLANS', fallback: 16, min: 0 },
  drainTimeoutMs: { env: 'DRAIN_TIMEOUT_MS', fallback: 30_000, min: 0 },
  rateLimitMax: { env: 'RATE_LIMIT_MAX', fallback: 120, min: 0 },
  rateLimitWindowMs: { env: 'RATE_LIMIT_WINDOW_MS', fallback: 60_000, min: 1000 },
  headersTimeoutMs: { env: 'HEADERS_TIMEOUT_MS', fallback: 10_000, min: 100 },
  requestTimeoutMs: { env: 'REQUEST_TIMEOUT_MS', fallback: 30_000, min: 100 },
  keepAliveTimeoutMs: { env: 'KEEP_ALIVE_TIMEOUT_MS', fallback: 5_000, min: 0 },
  maxConnections: { env: 'MAX_CONNECTIONS', fallback: 1024, min: 1 },
  maxRequestsPerSocket: { env: 'MAX_REQUESTS_PER_SOCKET', fallback: 1000, min: 1 },
  maxUnreadBytes: { env: 'MAX_UNREAD_BYTES', fallback: 4 * MIB, min: 1024 },
  maxPipelinedRequests: { env: 'MAX_PIPELINED_REQUESTS', fallback: 32, min: 1 },
  spareWorkers: { env: 'SOLVER_SPARE_WORKERS', fallback: 1, min: 0, max: 16 },
  bodyWorkers: { env: 'BODY_WORKERS', fallback: 1, min: 0, max: 16 },
  bodyWorkerThresholdBytes: { env: 'BODY_WORKER_THRESHOLD_BYTES', fallback: 32 * 1024, min: 0 },
  maxQueuedBodies: { env: 'MAX_QUEUED_BODIES', fallback: 8, min: 0 },
  bodyTimeLimitMs: { env: 'BODY_TIME_LIMIT_MS', fallback: 5000, min: 10 },
  redisCommandTimeoutMs: {
    env: 'REDIS_COMMAND_TIMEOUT_MS',
    fallback: REDIS_STORE_DEFAULTS.commandTimeoutMs,
    min: 1,
    max: 60_000,
  },
  redisConnectTimeoutMs: {
    env: 'REDIS_CONNECT_TIMEOUT_MS',
    fallback: REDIS_STORE_DEFAULTS.connectTimeoutMs,
    min: 1,
    max: 60_000,
  },
  redisLeaseMs: { env: 'REDIS_LEASE_MS', fallback: REDIS_STORE_DEFAULTS.leaseMs, min: 30, max: 600_000 },
};

/** Named ranges Express's `trust proxy` knows besides addresses and subnets. */
const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** TRUST_PROXY as Express's `trust proxy`: unset or "false" trusts none; a hop count; or a list of addresses. */
function trustProxyOf(text: string, problems: string[]): Config['trustProxy'] {
  if (text === '' || text === 'false' || text === '0') return false;
  if (/^\d+$/.test(text) && Number(text) <= 16) return Number(text);
  const items = text.split(',').map((item) => item.trim());
  const valid = (item: string): boolean => {
    if (PROXY_NAMES.includes(item)) return true;
    const [address, bits, ...rest] = item.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  };
  if (items.every(valid)) return Object.freeze(items);
  // "true" would believe any client's X-Forwarded-For: every client could pick its own rate limit key.
  problems.push(
    `TRUST_PROXY=${JSON.stringify(text)} must be false, the number of proxies in front (0..16), or their addresses, subnets or ${PROXY_NAMES.join('/')}, comma-separated`,
  );
  return false;
}

/** REDIS_URL, checked without repeating it in the error: it may hold a password. */
function redisUrlOf(text: string, problems: string[]): string | null {
  if (text === '') return null;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url && ['redis:', 'rediss:'].includes(url.protocol) && url.hostname !== '') return text;
  problems.push('REDIS_URL must be a redis:// or rediss:// URL with a host (its value is not repeated here)');
  return null;
}

/**
 * Builds the configuration from environment variables (the integers above, HOST, LOG_LEVEL,
 * API_KEYS: comma-separated, AUTH_READS: true or false, TRUST_PROXY, REDIS_URL, REDIS_KEY_PREFIX);
 * unset or empty variables take the defaults. Throws one Error listing every invalid variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = {}): Readonly<Config> {
  const problems: string[] = [];
  const integer = ({ env: name, fallback, min, max = Number.MAX_SAFE_INTEGER }: IntSpec): number => {
    const text = env[name]?.trim();
    if (text === undefined || text === '') return fallback;
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max)
      problems.push(`${name}=${JSON.stringify(text)} must be an integer in ${min}..${max}`);
    return value;
  };
  // Every key of INTEGERS is an IntKey and every IntKey is a key of INTEGERS: the entries rebuild the record.
  const values = Object.fromEntries(Object.entries(INTEGERS).map(([key, spec]) => [key, integer(spec)])) as Record<
    IntKey,
    number
  >;
  const host = env.HOST?.trim() || '0.0.0.0';
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} must be one of ${LOG_LEVELS.join(', ')}`);
  const apiKeys = (env.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  if (apiKeys.some((k) => !/^[\x21-\x7e]{16,256}$/.test(k)))
    problems.push('API_KEYS must be comma-separated keys of 16 to 256 printable ASCII characters');
  const authText = env.AUTH_READS?.trim() || 'false';
  if (authText !== 'true' && authText !== 'false')
    problems.push(`AUTH_READS=${JSON.stringify(authText)} must be true or false`);
  const redisKeyPrefix = env.REDIS_KEY_PREFIX?.trim() || REDIS_STORE_DEFAULTS.keyPrefix;
  if (!/^[\x21-\x7e]{1,64}$/.test(redisKeyPrefix))
    problems.push(`REDIS_KEY_PREFIX=${JSON.stringify(redisKeyPrefix)} must be 1 to 64 printable ASCII characters`);
  const config: Config = {
    ...values,
    host,
    logLevel,
    apiKeys: Object.freeze(apiKeys),
    authReads: authText === 'true',
    trustProxy: trustProxyOf(env.TRUST_PROXY?.trim() ?? '', problems),
    redisUrl: redisUrlOf(env.REDIS_URL?.trim() ?? '', problems),
    redisKeyPrefix,
  };
  if (problems.length === 0 && config.defaultTimeLimitMs > config.maxTimeLimitMs) {
    problems.push(
      `DEFAULT_TIME_LIMIT_MS (${config.defaultTimeLimitMs}) must not exceed MAX_TIME_LIMIT_MS (${config.maxTimeLimitMs})`,
    );
  }
  if (problems.length > 0) throw new Error(`invalid configuration: ${problems.join('; ')}`);
  return Object.freeze(config);
}
