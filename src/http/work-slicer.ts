/**
 * Request work in slices of the event loop. Node hands every request that arrived together to
 * its handler in one turn of the loop: sixteen clients flooding POST routes meant sixteen
 * requests' work (rate limit, parsing, validation, answers) back to back, 20-40 ms, ahead of any
 * probe or cached read that arrived with them. Routes that do work go through the slicer: work
 * starts while the current turn has done less than `sliceMs` of it, and the rest waits, in
 * arrival order, for later turns. Probes and reads served from memory do not go through it, so
 * they are answered within one slice of arriving however many requests are waiting.
 */
import type { RequestHandler } from 'express';

export interface WorkSlicer {
  /** Middleware for routes that do work: starts the request now or in a later turn. */
  readonly handler: RequestHandler;
  /** Requests waiting for their turn. */
  readonly waiting: number;
}

/**
 * `now` is the clock slices are measured on (performance.now; tests pass a clock they move).
 * A request that starts runs its synchronous part and the continuations it queues before the next
 * one is considered: each waiting request is started from a callback of its own.
 */
export function createWorkSlicer(sliceMs: number, now: () => number = () => performance.now()): WorkSlicer {
  const waiting: (() => void)[] = [];
  /** When this turn's work began; null until work starts in a turn. */
  let turnStart: number | null = null;
  const endTurn = (): void => {
    turnStart = null;
  };
  /** Whether work may start now; when it may, the turn's slice is opened if it was not. */
  const mayStart = (): boolean => {
    const at = now();
    if (turnStart === null) {
      turnStart = at;
      // Runs in the check phase, before the waiting requests' callbacks queued behind it.
      setImmediate(endTurn);
      return true;
    }
    return at - turnStart < sliceMs;
  };
  const startHead = (): void => {
    if (mayStart()) waiting.shift()?.();
    else setImmediate(startHead);
  };
  const handler: RequestHandler = (req, _res, next) => {
    if (waiting.length === 0 && mayStart()) {
      next();
      return;
    }
    // A request whose client went away while it waited is not started.
    waiting.push(() => {
      if (!req.socket.destroyed) next();
    });
    setImmediate(startHead);
  };
  return {
    handler,
    get waiting() {
      return waiting.length;
    },
  };
}
