/**
 * Solving a plan once across replicas. The first process to miss takes a short lease on the plan
 * id (SET NX PX), renews it while it solves, stores the plan, then releases the lease (only if it
 * is still its own) and publishes the id. The others wait for that message, or for the lease's
 * expiry, whichever comes first, and then look again: the plan is there (they read it), or the
 * lease is free (the owner failed or died: they take it), or it is held (they wait again). A dead
 * owner therefore costs one lease period. A waiter whose caller gives up (its signal aborts), whose
 * wait passes a bound, or whose store fails solves itself, and so does every caller while the store
 * is degraded: waiting is never a reason not to answer.
 */
import { randomUUID } from 'node:crypto';
import type { PlanEntry } from './plan-entry.ts';
import type { SolveOnceOutcome } from './plan-store.ts';
import { FAULT } from './redis-connection.ts';
import type { RedisAccess } from './redis-keys.ts';
import { CLAIM_DONE, CLAIM_OWNER } from './redis-scripts.ts';
import type { FlightControl } from './single-flight.ts';
import type { FallbackReason } from './store-metrics.ts';

/** Why a wait ended: a message about the plan id, the timer, or the caller's signal. */
type Woken = 'message' | 'timer' | 'aborted';

export interface Wakeup {
  /** Resolves at the first message about the id since the last call, after `ms`, or when `signal` aborts. */
  next(ms: number, signal: AbortSignal): Promise<Woken>;
  close(): void;
}

/** Messages about plan ids, handed to the local waiters of each id. */
export interface Wakeups {
  notify(id: string): void;
  /** Listens for messages about `id` from now on: register before looking, so none slips between. */
  listen(id: string): Wakeup;
}

export function createWakeups(): Wakeups {
  const waiting = new Map<string, Set<() => void>>();
  return {
    notify(id) {
      for (const poke of waiting.get(id) ?? []) poke();
    },
    listen(id) {
      let pending = false;
      let wakeNow: (() => void) | undefined;
      const poke = (): void => {
        pending = true;
        wakeNow?.();
      };
      const set = waiting.get(id) ?? new Set();
      set.add(poke);
      waiting.set(id, set);
      return {
        next(ms, signal) {
          if (signal.aborted) return Promise.resolve('aborted');
          if (pending) {
            pending = false;
            return Promise.resolve('message');
          }
          return new Promise<Woken>((resolve) => {
            const finish = (why: Woken): void => {
              clearTimeout(timer);
              signal.removeEventListener('abort', onAbort);
              wakeNow = undefined;
              pending = false;
              resolve(why);
            };
            const onAbort = (): void => finish('aborted');
            const timer = setTimeout(() => finish('timer'), ms);
            signal.addEventListener('abort', onAbort, { once: true });
            wakeNow = () => finish('message');
          });
        },
        close() {
          set.delete(poke);
          if (set.size === 0) waiting.delete(id);
        },
      };
    },
  };
}

export interface LeaseDeps extends RedisAccess {
  readonly wakeups: Wakeups;
  /** Lease period, ms: how long a dead owner holds the others up. */
  readonly leaseMs: number;
  /** Longest a caller waits for other replicas in all, ms, before it solves itself. */
  readonly maxWaitMs: number;
  /** The shared store's entry (never rejects). */
  readonly read: (id: string) => Promise<PlanEntry | undefined>;
  /** Stores an entry locally and shared (never rejects). */
  readonly write: (entry: PlanEntry) => Promise<void>;
}

type Turn =
  | { readonly kind: 'stored'; readonly entry: PlanEntry }
  | { readonly kind: 'owner'; readonly token: string }
  | { readonly kind: 'local'; readonly reason: FallbackReason };

/** While the store is degraded: no lease to take, no message to wait for. */
const DEGRADED: Turn = { kind: 'local', reason: 'degraded' };

/**
 * Runs `solve` under the lease of `id`, or answers another replica's plan; `control.stop` ends any
 * wait. While the store is degraded it solves at once and stores the plan (here, and in Redis if
 * the write gets through).
 */
export async function solveUnderLease(
  deps: LeaseDeps,
  id: string,
  solve: () => Promise<PlanEntry>,
  control: FlightControl,
): Promise<SolveOnceOutcome> {
  const turn = deps.connection.state() === 'ok' ? await waitForTurn(deps, id, control) : DEGRADED;
  if (turn.kind === 'stored') return { entry: turn.entry, solvedHere: false };
  if (turn.kind === 'local') {
    deps.metrics.fallback(turn.reason);
    return solveAndStore(deps, solve);
  }
  return solveAsOwner(deps, id, turn.token, solve);
}

async function waitForTurn(deps: LeaseDeps, id: string, { stop, waiting }: FlightControl): Promise<Turn> {
  const { connection, metrics, leaseMs } = deps;
  const giveUpAt = performance.now() + deps.maxWaitMs;
  const wakeup = deps.wakeups.listen(id);
  let waited = false;
  try {
    for (;;) {
      const token = randomUUID();
      const claim = await connection.attempt('claim', (client) =>
        client.claim([deps.keys.lease(id), deps.keys.plan(id)], [token, String(leaseMs)]),
      );
      if (claim === FAULT) return { kind: 'local', reason: 'store_error' };
      if (claim[0] === CLAIM_DONE) {
        const entry = await deps.read(id);
        // Gone or unreadable since the claim looked (expired, evicted, another version): solve.
        return entry ? { kind: 'stored', entry } : { kind: 'local', reason: 'store_error' };
      }
      if (claim[0] === CLAIM_OWNER) {
        if (waited) metrics.leaseTakeover();
        return { kind: 'owner', token };
      }
      if (!waited) {
        metrics.leaseWait();
        waiting();
      }
      waited = true;
      const left = giveUpAt - performance.now();
      if (left <= 0) return { kind: 'local', reason: 'wait_bound' };
      // A lease without a TTL is not one of ours: look again after a lease period.
      const expiresIn = claim[1] >= 0 ? claim[1] + 1 : leaseMs;
      if ((await wakeup.next(Math.min(left, expiresIn), stop)) === 'aborted')
        return { kind: 'local', reason: 'aborted' };
    }
  } finally {
    wakeup.close();
  }
}

async function solveAsOwner(
  deps: LeaseDeps,
  id: string,
  token: string,
  solve: () => Promise<PlanEntry>,
): Promise<SolveOnceOutcome> {
  const { connection, leaseMs } = deps;
  const lease = deps.keys.lease(id);
  // Renewed three times a period, so one late or failed renewal does not lose it.
  const renewal = setInterval(
    () => void connection.attempt('renew', (client) => client.renew([lease], [token, String(leaseMs)])),
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  try {
    return await solveAndStore(deps, solve);
  } finally {
    clearInterval(renewal);
    // Released whether the solve succeeded or not: waiters look again and, if it failed, one solves.
    await connection.attempt('release', (client) => client.release([lease], [token, deps.keys.channel, id]));
  }
}

async function solveAndStore(deps: LeaseDeps, solve: () => Promise<PlanEntry>): Promise<SolveOnceOutcome> {
  const entry = await solve();
  await deps.write(entry);
  return { entry, solvedHere: true };
}
