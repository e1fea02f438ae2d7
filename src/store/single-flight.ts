/**
 * Identical solveOnce calls in one process join one flight: one solve (or one wait for another
 * replica's), whatever the number of callers, and no store round trip per caller. Every caller gets
 * the flight's outcome, or its error.
 */
import type { PlanEntry } from './plan-entry.ts';
import type { PlanStore, SolveOnceOptions, SolveOnceOutcome } from './plan-store.ts';

/**
 * How a flight gets its plan: `stop` aborts when a caller's signal does, and tells a flight that
 * waits for another process to stop waiting and solve.
 */
export type Fly = (id: string, solve: () => Promise<PlanEntry>, stop: AbortSignal) => Promise<SolveOnceOutcome>;

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
      flight = { outcome: fly(id, solve, stop.signal), stop };
      flights.set(id, flight);
      const land = (): void => void flights.delete(id);
      flight.outcome.then(land, land);
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
