/**
 * The plan store that replicas share, on Redis (REDIS_URL), with a byte-bounded LRU of this
 * process in front so that hot plans and lookups cost no round trip (local-plans.ts says why a
 * local copy is never stale). Keys, all under one configurable prefix so that deployments can share
 * a Redis:
 *
 *   <prefix>plan:<id>       hash: v, type, etag, facts, unit2gpu, body (redis-records.ts); TTL ttlMs
 *   <prefix>lookup:<key>    the plan id a per-model lookup key maps to; TTL ttlMs
 *   <prefix>lease:<id>      the token of the process solving <id> (redis-lease.ts); TTL leaseMs
 *   <prefix>solved          pub/sub channel: ids whose lease was released
 *
 * Every key expires, so Redis's own eviction can bound memory with `maxmemory` and a
 * `volatile-lru` or `allkeys-lru` policy (docs/replicas.md). Redis faults never reach the caller:
 * a failed read is a miss, a failed write is dropped, both counted, and the store is `degraded`
 * (solving locally, without leases) until Redis answers again.
 */
import type { PlanEntry } from './plan-entry.ts';
import type { PlanStore, SolveOnceOptions, SolveOnceOutcome, StoreState } from './plan-store.ts';
import { createLocalPlans } from './local-plans.ts';
import { createRedisConnection, FAULT } from './redis-connection.ts';
import { createWakeups, solveUnderLease } from './redis-lease.ts';
import { decodeRecord, encodeRecord, RECORD_FIELDS, RecordError } from './redis-records.ts';
import { NO_STORE_METRICS, type StoreMetricsSink, type StoreOperation } from './store-metrics.ts';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (REDIS_URL). */
  readonly url: string;
  /** Prefix of every key and channel (default "hplb:"): deployments sharing a Redis use their own. */
  readonly keyPrefix?: string;
  /** How long a stored plan and lookup live, ms (CACHE_TTL_MS), in Redis and locally. */
  readonly ttlMs: number;
  /** Bounds of the local LRU: entries, and bytes of bodies and placements. */
  readonly localMaxEntries?: number;
  readonly localMaxBytes?: number;
  /** Longest one Redis command may take, ms; keep it well under a request's deadline. */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Reconnection backoff bounds, ms. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** While degraded, how often Redis is pinged, ms. */
  readonly probeIntervalMs?: number;
  /** Lease period, ms: what a replica that dies mid-solve costs the others. */
  readonly leaseMs?: number;
  /** Longest solveOnce waits for another replica's solve in all, ms (the longest plan time limit and its grace). */
  readonly maxWaitMs?: number;
  readonly metrics?: StoreMetricsSink;
  /** Clock of the local LRU's TTLs, ms: tests inject one. */
  readonly now?: () => number;
}

export const REDIS_STORE_DEFAULTS = Object.freeze({
  keyPrefix: 'hplb:',
  localMaxEntries: 512,
  localMaxBytes: 64 * 1024 * 1024,
  // Long enough for a 2 MB plan on a LAN, short next to a plan request's deadline.
  commandTimeoutMs: 100,
  connectTimeoutMs: 1000,
  reconnectMinMs: 50,
  reconnectMaxMs: 2000,
  probeIntervalMs: 1000,
  leaseMs: 3000,
  maxWaitMs: 65_000,
});

export interface RedisPlanStore extends PlanStore {
  readonly kind: 'redis';
  /** Calls `listener` at each change between ok and degraded; returns the function that stops it. */
  onState(listener: (state: StoreState) => void): () => void;
}

interface Flight {
  readonly outcome: Promise<SolveOnceOutcome>;
  /** Aborted by the first joined caller whose signal aborts: the flight stops waiting and solves. */
  readonly stopWaiting: AbortController;
}

export function createRedisStore(options: RedisStoreOptions): RedisPlanStore {
  const settings = { ...REDIS_STORE_DEFAULTS, ...options };
  const { keyPrefix: prefix, ttlMs } = settings;
  const metrics = options.metrics ?? NO_STORE_METRICS;
  const planKey = (id: string): string => `${prefix}plan:${id}`;
  const lookupKey = (key: string): string => `${prefix}lookup:${key}`;
  const channel = `${prefix}solved`;
  const local = createLocalPlans({
    maxEntries: settings.localMaxEntries,
    maxBytes: settings.localMaxBytes,
    ttlMs,
    ...(options.now ? { now: options.now } : {}),
  });
  const wakeups = createWakeups();
  const connection = createRedisConnection({ ...settings, metrics, channel, onMessage: wakeups.notify });
  const reads = new Map<string, Promise<PlanEntry | undefined>>();
  const flights = new Map<string, Flight>();

  /** The shared record of `id`, kept locally for as long as Redis keeps it; undefined on a miss or fault. */
  async function readShared(id: string): Promise<PlanEntry | undefined> {
    const key = planKey(id);
    const reply = await connection.attempt('get', (client) =>
      client
        .multi()
        .hmGet(key, [...RECORD_FIELDS])
        .pTTL(key)
        .exec(),
    );
    if (reply === FAULT) return undefined;
    const [values, pttl] = reply as unknown as [(Buffer | null)[], number];
    const entry = decode(id, values);
    if (entry) local.set(entry, undefined, pttl > 0 ? pttl : undefined);
    return entry;
  }

  function decode(id: string, values: (Buffer | null)[]): PlanEntry | undefined {
    try {
      return decodeRecord(id, values);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      count('decode');
      return undefined;
    }
  }
  const count = (operation: StoreOperation): void => metrics.storeError(operation);

  function get(id: string): Promise<PlanEntry | undefined> {
    const held = local.get(id);
    if (held) return Promise.resolve(held);
    // Concurrent misses of one id share one read.
    let read = reads.get(id);
    if (!read) {
      read = readShared(id);
      reads.set(id, read);
      const forget = (): void => void reads.delete(id);
      read.then(forget, forget);
    }
    return read;
  }

  async function getByLookup(key: string): Promise<PlanEntry | undefined> {
    const id = local.lookup(key);
    const held = id === undefined ? undefined : local.get(id);
    if (held) return held;
    const shared = lookupKey(key);
    const reply = await connection.attempt('get_lookup', (client) => client.multi().get(shared).pTTL(shared).exec());
    if (reply === FAULT) return undefined;
    const [planId, pttl] = reply as unknown as [Buffer | null, number];
    if (planId === null) return undefined;
    const entry = await get(planId.toString());
    if (entry) local.map(key, entry.id, pttl > 0 ? pttl : undefined);
    return entry;
  }

  async function set(entry: PlanEntry, lookup?: string): Promise<void> {
    // An entry this process already holds was written or read here: renew it without resending it.
    const known = local.holds(entry);
    local.set(entry, lookup);
    const keys = lookup === undefined ? [planKey(entry.id)] : [planKey(entry.id), lookupKey(lookup)];
    const head = [String(ttlMs), entry.id];
    if (known) {
      const renewed = await connection.attempt('set', (client) => client.touchPlan(keys, head));
      if (renewed !== 0) return;
    }
    const record = encodeRecord(entry).flatMap((value, i) => [RECORD_FIELDS[i], value]);
    await connection.attempt('set', (client) => client.writePlan(keys, [...head, ...record]));
  }

  const leaseDeps = {
    connection,
    wakeups,
    metrics,
    leaseKey: (id: string) => `${prefix}lease:${id}`,
    planKey,
    channel,
    leaseMs: settings.leaseMs,
    maxWaitMs: settings.maxWaitMs,
    read: get,
    write: (entry: PlanEntry) => set(entry),
  };

  async function fly(id: string, solve: () => Promise<PlanEntry>, stop: AbortSignal): Promise<SolveOnceOutcome> {
    if (connection.state() === 'ok') return solveUnderLease(leaseDeps, id, solve, stop);
    metrics.fallback('degraded');
    const entry = await solve();
    await set(entry);
    return { entry, solvedHere: true };
  }

  async function solveOnce(
    id: string,
    solve: () => Promise<PlanEntry>,
    options: SolveOnceOptions = {},
  ): Promise<SolveOnceOutcome> {
    // Identical calls in this process join one flight: one lease, one solve, no round trip each.
    let flight = flights.get(id);
    const joined = flight !== undefined;
    if (flight === undefined) {
      const stopWaiting = new AbortController();
      const outcome = fly(id, solve, stopWaiting.signal);
      flight = { outcome, stopWaiting };
      flights.set(id, flight);
      const land = (): void => void flights.delete(id);
      outcome.then(land, land);
    }
    const { signal } = options;
    const stop = flight.stopWaiting.abort.bind(flight.stopWaiting);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    try {
      const outcome = await flight.outcome;
      return joined ? { entry: outcome.entry, solvedHere: false } : outcome;
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  return {
    kind: 'redis',
    peek: (id) => local.get(id),
    peekLookup(key) {
      const id = local.lookup(key);
      return id === undefined ? undefined : local.get(id);
    },
    get,
    getByLookup,
    set,
    solveOnce,
    state: () => connection.state(),
    onState: (listener) => connection.onState(listener),
    bytes: () => local.bytes(),
    close: () => connection.close(),
  };
}
