/**
 * Plans and lookups in Redis, with this process's LRU in front: reads go to Redis only on a local
 * miss (concurrent misses of one id, or of one lookup key, share one read) and keep what they find
 * for as long as Redis does; writes go to both. Nothing here rejects: a failed read is a miss and a
 * failed write is dropped, each counted by the connection.
 */
import { createInFlight } from './in-flight.ts';
import type { LocalPlans } from './local-plans.ts';
import type { PlanEntry } from './plan-entry.ts';
import { FAULT } from './redis-connection.ts';
import type { RedisAccess } from './redis-keys.ts';
import { decodeRecord, encodeRecord, RECORD_FIELDS, RecordError } from './redis-records.ts';

export interface SharedPlansDeps extends RedisAccess {
  readonly local: LocalPlans;
  /** How long plans and lookups live in Redis, ms. */
  readonly ttlMs: number;
}

export interface SharedPlans {
  get(id: string): Promise<PlanEntry | undefined>;
  getByLookup(key: string): Promise<PlanEntry | undefined>;
  set(entry: PlanEntry, lookupKey?: string): Promise<void>;
}

/** A remaining TTL from PTTL (-1: none, -2: no key) as a local TTL: undefined keeps the full one. */
const remaining = (pttl: number): number | undefined => (pttl > 0 ? pttl : undefined);

export function createSharedPlans(deps: SharedPlansDeps): SharedPlans {
  const { connection, local, keys } = deps;
  const reads = createInFlight<PlanEntry | undefined>();
  const lookupReads = createInFlight<PlanEntry | undefined>();

  async function readShared(id: string): Promise<PlanEntry | undefined> {
    const key = keys.plan(id);
    const reply = await connection.attempt('get', (client) =>
      client
        .multi()
        .hmGet(key, [...RECORD_FIELDS])
        .pTTL(key)
        .exec(),
    );
    if (reply === FAULT) return undefined;
    const [values, pttl] = reply as unknown as [(Buffer | null)[], number];
    let entry: PlanEntry | undefined;
    try {
      entry = decodeRecord(id, values);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      deps.metrics.storeError('decode');
      return undefined;
    }
    if (entry) local.set(entry, undefined, remaining(pttl));
    return entry;
  }

  function get(id: string): Promise<PlanEntry | undefined> {
    const held = local.get(id);
    return held ? Promise.resolve(held) : reads(id, () => readShared(id)).promise;
  }

  function getByLookup(key: string): Promise<PlanEntry | undefined> {
    // A lookup key maps to one plan id for as long as it lives (local-plans.ts): once this process
    // knows the id, only the plan may need reading (the LRU let it go, not the mapping).
    const known = local.lookup(key);
    return known !== undefined ? get(known) : lookupReads(key, () => readLookup(key)).promise;
  }

  async function readLookup(key: string): Promise<PlanEntry | undefined> {
    const shared = keys.lookup(key);
    const reply = await connection.attempt('get_lookup', (client) => client.multi().get(shared).pTTL(shared).exec());
    if (reply === FAULT) return undefined;
    const [planId, pttl] = reply as unknown as [Buffer | null, number];
    if (planId === null) return undefined;
    const entry = await get(planId.toString());
    if (entry) local.map(key, entry.id, remaining(pttl));
    return entry;
  }

  async function set(entry: PlanEntry, lookupKey?: string): Promise<void> {
    // An entry this process already holds was written or read here: renew it without resending it.
    const known = local.holds(entry);
    local.set(entry, lookupKey);
    const names = [keys.plan(entry.id), ...(lookupKey === undefined ? [] : [keys.lookup(lookupKey)])];
    const head = [String(deps.ttlMs), entry.id];
    if (known) {
      const renewed = await connection.attempt('set', (client) => client.touchPlan(names, head));
      // Renewed, or Redis failed (a full write would fail too): only a record Redis lost is resent.
      if (renewed !== 0) return;
    }
    const record = encodeRecord(entry).flatMap((value, i) => [RECORD_FIELDS[i], value]);
    await connection.attempt('set', (client) => client.writePlan(names, [...head, ...record]));
  }

  return { get, getByLookup, set };
}
