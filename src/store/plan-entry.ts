/**
 * A stored plan, ready to send: its JSON body and ETag computed once, and what re-plans and the
 * ranks route read besides the layers, so that neither parses the body.
 */
import { createHash } from 'node:crypto';
import type { PreviousPlan } from '../planner/migration.ts';
import type { Plan } from '../planner/plan.ts';

export interface PlanEntry {
  /** The plan's id. */
  readonly id: string;
  /** JSON text of the plan, UTF-8 encoded once, exactly as sent. The plan object itself is not kept: its heap is many times this. */
  readonly body: Buffer;
  /** Strong ETag (quoted) of `body`. */
  readonly etag: string;
  /** What re-plans and the ranks route read besides the layers: they never parse `body` on the event loop. */
  readonly facts: PlanFacts;
  /** [layers x units] GPU of each unit, layer after layer: the placement a re-plan starts from. */
  readonly unit2gpu: Int32Array;
}

/** A stored plan's shape. */
export interface PlanFacts {
  readonly modelId: string | null;
  readonly granularity: Plan['granularity'];
  readonly layers: number;
  /** Units of every layer (the length of each layer's unit2gpu and permutation). */
  readonly units: number;
}

/** Bytes of JSON serialised between two yields to the event loop. */
const SERIALISE_SLICE_BYTES = 256 * 1024;

/**
 * The entry for a plan: its body, a strong ETag over the body, its facts and placement. Layers are
 * serialised one at a time and the event loop gets a turn after every SERIALISE_SLICE_BYTES, so a
 * large plan (up to MAX_PLAN_BYTES) does not hold up other requests while it is written out.
 */
export async function createPlanEntry(plan: Plan): Promise<PlanEntry> {
  const { layers, ...rest } = plan;
  const units = layers[0]?.unit2gpu.length ?? 0;
  const facts: PlanFacts = { modelId: plan.model.id, granularity: plan.granularity, layers: layers.length, units };
  const unit2gpu = new Int32Array(layers.length * units);
  // Layers go last: everything before them is small and written in one piece.
  const chunks: Buffer[] = [Buffer.from(JSON.stringify({ ...rest, layers: [] }).slice(0, -2), 'utf8')];
  const hash = createHash('sha256').update(chunks[0]);
  let pending = '';
  const flush = (): void => {
    const chunk = Buffer.from(pending, 'utf8');
    chunks.push(chunk);
    hash.update(chunk);
    pending = '';
  };
  for (let i = 0; i < layers.length; i++) {
    const row = layers[i].unit2gpu;
    if (row.length !== units) throw new Error(`plan ${plan.id}: layer ${i} has ${row.length} units, layer 0 ${units}`);
    unit2gpu.set(row, i * units);
    pending += (i === 0 ? '' : ',') + JSON.stringify(layers[i]);
    if (pending.length >= SERIALISE_SLICE_BYTES) {
      flush();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  pending += ']}';
  flush();
  const body = ownedBytes(Buffer.concat(chunks));
  const etag = `"${hash.digest('base64url').slice(0, 27)}"`;
  return { id: plan.id, body, etag, facts, unit2gpu };
}

/**
 * `bytes` in an ArrayBuffer of their own, exactly their size: a cache that keeps them then holds
 * what it counts. Buffer.concat and Buffer.from put anything under 4 KiB into Node's shared 8 KiB
 * pool, and a Redis reply's bulk string is a view into the socket read that carried it (up to
 * 64 KiB): kept as they are, a small entry would pin the whole pool slab or socket read.
 */
export function ownedBytes(bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(own);
  return own;
}

/** Bytes an entry's body and placement keep alive: their whole backing stores, not only their views. */
export function retainedBytes(entry: PlanEntry): number {
  return entry.body.buffer.byteLength + entry.unit2gpu.buffer.byteLength;
}

/** What a re-plan reads of a stored plan, from the entry's facts and placement (its body is not parsed). */
export function previousOf(entry: PlanEntry): PreviousPlan {
  const { modelId, granularity, layers, units } = entry.facts;
  return {
    id: entry.id,
    model: { id: modelId },
    granularity,
    layers: Array.from({ length: layers }, (_, l) => ({
      unit2gpu: Array.from(entry.unit2gpu.subarray(l * units, (l + 1) * units)),
    })),
  };
}
