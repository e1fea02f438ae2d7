/**
 * Solver and body worker threads run below the event loop's CPU priority. On a small machine a
 * solve, or a megabyte body being parsed, would otherwise take the core the event loop needs for
 * probes, cached reads and the timers that cut plans at their deadline. Linux keeps a nice value
 * per thread, so a worker lowers its own; elsewhere the value is per process, and the priority
 * is left as it is.
 */
import { setPriority } from 'node:os';

/** Lowers the calling thread's priority to `nice` (1-19; 0 or undefined: unchanged). */
export function lowerThreadPriority(nice: number | undefined): void {
  if (!nice || process.platform !== 'linux') return;
  // Raising one's own nice value needs no privilege; should the system refuse, the thread keeps its priority.
  try {
    setPriority(nice);
  } catch {
    return;
  }
}
