/**
 * Identical solveOnce calls in one process join one flight: one solve (or one wait for another
 * replica's), whatever the number of callers, and no store round trip per caller. Every caller gets
 * the flight's outcome, or its error. Both stores use it.
 *
 * Not lru-cache's fetch(), which coalesces too: a fetch listens to the signal of its first caller
 * only, an abort rejects every caller, and storing an entry under the id while its fetch is in
 * flight aborts the fetch, where a Redis flight must end its wait when any caller gives up, then
 * solve for all of them, and keeps the entries it reads as it goes.
 */
import type { PlanEntry } from './plan-entry.ts';
import type { PlanStore, SolveOnceOptions, SolveOnceOutcome } from './plan-store.ts';

/** What a flight is told by, and tells, its callers. */
export interface FlightControl {
  /** Aborts when a caller's signal does: a flight that waits for another process stops and solves. */
  readonly stop: AbortSignal;
  /** The flight waits for another process's solve: its first caller has joined a solve too. */
  waiting(): void;
}

/** How a flight gets its plan. */
export type Fly = (id: string, solve: () => Promise<PlanEntry>, control: FlightControl) => Promise<SolveOnceOutcome>;

interface Flight {
  readonly outcome: Promise<SolveOnceOutcome>;
  readonly stop: AbortController;
}

/** solveOnce over `fly`: the first call of an id starts its flight, later ones join it (solvedHere false). */
export function createSingleFlight(fly: Fly): PlanStore['solveOnce'] {
  const flights = new Map<string, Flight>();
  return async function solveOnce(
    id: string,
    solve: () => Promise<PlanEntry>,
    options: SolveOnceOptions = {},
  ): Promise<SolveOnceOutcome> {
    let flight = flights.get(id);
    const joined = flight !== undefined;
    if (flight === undefined) {
      const stop = new AbortController();
      let told = false;
      const waiting = (): void => {
        if (told) return;
        told = true;
        options.joined?.();
      };
      flight = { outcome: fly(id, solve, { stop: stop.signal, waiting }), stop };
      flights.set(id, flight);
      const land = (): void => void flights.delete(id);
      flight.outcome.then(land, land);
    } else {
      options.joined?.();
    }
    // The first caller to give up ends the flight's wait: it then solves once for all of them.
    const { signal } = options;
    const stop = (): void => flight.stop.abort();
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    try {
      const outcome = await flight.outcome;
      return joined ? { entry: outcome.entry, solvedHere: false } : outcome;
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  };
}
