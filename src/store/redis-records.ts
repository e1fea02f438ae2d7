/**
 * How a plan entry is laid out in Redis: one hash per plan, every field binary-safe (the body and
 * placement travel as raw bytes, never as text that a client could re-encode). A record another
 * version wrote, or that is not a plan at all (a foreign key under the same prefix), is refused
 * with RecordError: the store counts it and treats it as a miss.
 */
import { ownedBytes, type PlanEntry, type PlanFacts } from './plan-entry.ts';

/** Bumped when the layout changes: a record of another version is a miss, never misread. */
const RECORD_VERSION = '1';

/** A PlanEntry's body is always the plan's JSON text (UTF-8). */
const PLAN_CONTENT_TYPE = 'application/json';

/** The hash fields of a record, in the order encodeRecord writes and decodeRecord reads them. */
export const RECORD_FIELDS = ['v', 'type', 'etag', 'facts', 'unit2gpu', 'body'] as const;

/** Bytes of one unit2gpu value: a little-endian int32, whatever the replica's own byte order. */
const INT32_BYTES = 4;

type Granularity = PlanFacts['granularity'];

const GRANULARITIES: readonly Granularity[] = ['query-head', 'kv-group'];

export class RecordError extends Error {
  override readonly name = 'RecordError';
}

/** The values of RECORD_FIELDS for an entry, in that order. */
export function encodeRecord(entry: PlanEntry): Buffer[] {
  const placement = Buffer.allocUnsafe(entry.unit2gpu.length * INT32_BYTES);
  for (let i = 0; i < entry.unit2gpu.length; i++) placement.writeInt32LE(entry.unit2gpu[i], i * INT32_BYTES);
  return [
    Buffer.from(RECORD_VERSION),
    Buffer.from(PLAN_CONTENT_TYPE),
    Buffer.from(entry.etag),
    Buffer.from(JSON.stringify(entry.facts)),
    placement,
    entry.body,
  ];
}

/**
 * The entry of plan `id` from the values of RECORD_FIELDS (null where a field is absent):
 * undefined when there is no record; RecordError when there is one this version cannot read.
 */
export function decodeRecord(id: string, values: readonly (Buffer | null)[]): PlanEntry | undefined {
  if (values.every((value) => value === null)) return undefined;
  const [version, type, etag, facts, placement, body] = values;
  if (version?.toString() !== RECORD_VERSION)
    throw new RecordError(`plan ${id}: record version ${version?.toString() ?? 'missing'}, expected ${RECORD_VERSION}`);
  if (type?.toString() !== PLAN_CONTENT_TYPE) throw new RecordError(`plan ${id}: content type ${type?.toString()}`);
  if (etag === null || etag.length === 0 || body === null || placement === null || facts === null)
    throw new RecordError(`plan ${id}: record lacks a field`);
  const parsed = parseFacts(id, facts.toString());
  const values32 = parsed.layers * parsed.units;
  if (placement.length !== values32 * INT32_BYTES)
    throw new RecordError(`plan ${id}: placement holds ${placement.length} bytes, facts say ${values32} units`);
  const unit2gpu = new Int32Array(values32);
  for (let i = 0; i < values32; i++) unit2gpu[i] = placement.readInt32LE(i * INT32_BYTES);
  // The reply's body is a view into the socket read that carried it: the entry keeps a copy of its own.
  return { id, body: ownedBytes(body), etag: etag.toString(), facts: parsed, unit2gpu };
}

function parseFacts(id: string, text: string): PlanFacts {
  let facts: unknown;
  try {
    facts = JSON.parse(text);
  } catch {
    throw new RecordError(`plan ${id}: facts are not JSON`);
  }
  const { modelId, granularity, layers, units } = (facts ?? {}) as Record<string, unknown>;
  const count = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
  if (
    (modelId !== null && typeof modelId !== 'string') ||
    !GRANULARITIES.includes(granularity as Granularity) ||
    !count(layers) ||
    !count(units)
  )
    throw new RecordError(`plan ${id}: facts ${text.slice(0, 200)} are not a plan's`);
  return { modelId, granularity: granularity as Granularity, layers, units };
}
