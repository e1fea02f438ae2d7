import type { MigrationSpec, Move } from './types.ts';

/** Cost of putting unit u on GPU `to`: 0 where it already runs, else its move cost times the distance. */
export function moveCostTo(spec: MigrationSpec, u: number, to: number): number {
  const from = spec.previous[u];
  if (from === to) return 0;
  return spec.moveCosts[u] * (spec.gpuDistance?.[from]?.[to] ?? 1);
}

/**
 * The moves that turn the previous placement into `unit2gpu`, by unit id.
 * @param unit2gpu [units] GPU of each unit after the re-plan
 */
export function listMoves(spec: MigrationSpec, unit2gpu: readonly number[]): Move[] {
  const moves: Move[] = [];
  unit2gpu.forEach((to, unit) => {
    const from = spec.previous[unit];
    if (from !== to) moves.push({ unit, from, to, cost: moveCostTo(spec, unit, to) });
  });
  return moves;
}

/** Total move cost of a placement against the previous one. */
export function totalMoveCost(spec: MigrationSpec, unit2gpu: readonly number[]): number {
  let total = 0;
  unit2gpu.forEach((to, u) => {
    total += moveCostTo(spec, u, to);
  });
  return total;
}

export function movedUnitCount(spec: MigrationSpec, unit2gpu: readonly number[]): number {
  let moved = 0;
  unit2gpu.forEach((to, u) => {
    if (spec.previous[u] !== to) moved += 1;
  });
  return moved;
}

/**
 * Groups transfers into rounds in which no GPU sends twice and no GPU receives twice, so each
 * round can run in parallel. This is an edge colouring of the bipartite multigraph senders ->
 * receivers; by Konig's theorem the largest number of sends or receives of one GPU (its degree)
 * rounds suffice, and the alternating-path method below always reaches that number.
 * @param transfers [moves] { from, to } pairs (GPU labels; from !== to)
 * @returns [moves] round of each transfer (0-based); the round count is the maximum degree
 */
export function scheduleRounds(transfers: readonly { readonly from: number; readonly to: number }[]): number[] {
  // senderAt.get(s)[c] = transfer sending from s in round c; receiverAt likewise for receivers.
  const senderAt = new Map<number, (number | undefined)[]>();
  const receiverAt = new Map<number, (number | undefined)[]>();
  const slots = (map: Map<number, (number | undefined)[]>, gpu: number) => {
    let row = map.get(gpu);
    if (!row) {
      row = [];
      map.set(gpu, row);
    }
    return row;
  };
  const round = new Array<number>(transfers.length).fill(-1);
  const firstFree = (row: (number | undefined)[]) => {
    let c = 0;
    while (row[c] !== undefined) c++;
    return c;
  };
  transfers.forEach((t, e) => {
    const sends = slots(senderAt, t.from);
    const receives = slots(receiverAt, t.to);
    const a = firstFree(sends);
    const b = firstFree(receives);
    if (receives[a] !== undefined) {
      // Colour a is taken at the receiver and b is free at it. Swap a and b along the path that
      // starts at the receiver and alternates a, b, a, ... edges; it cannot reach the sender
      // (bipartite parity), after which a is free at both ends.
      const path: number[] = [];
      let onReceiver = true;
      let gpu = t.to;
      let colour = a;
      for (;;) {
        const edge = (onReceiver ? slots(receiverAt, gpu) : slots(senderAt, gpu))[colour];
        if (edge === undefined) break;
        path.push(edge);
        gpu = onReceiver ? transfers[edge].from : transfers[edge].to;
        onReceiver = !onReceiver;
        colour = colour === a ? b : a;
      }
      for (const edge of path) {
        slots(senderAt, transfers[edge].from)[round[edge]] = undefined;
        slots(receiverAt, transfers[edge].to)[round[edge]] = undefined;
      }
      for (const edge of path) {
        round[edge] = round[edge] === a ? b : a;
        slots(senderAt, transfers[edge].from)[round[edge]] = edge;
        slots(receiverAt, transfers[edge].to)[round[edge]] = edge;
      }
    }
    round[e] = a;
    sends[a] = e;
    receives[a] = e;
  });
  return round;
}
