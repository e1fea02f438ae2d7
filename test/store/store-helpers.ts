/**
 * What the store tests share: plan entries shaped like the service's, a metrics sink that records
 * what a store reports and lets a test wait for it, a store's state changes as events, and
 * solves that a test holds and releases.
 */
import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import type { PlanEntry } from '../../src/store/plan-entry.ts';
import type { StoreState } from '../../src/store/plan-store.ts';
import type { RedisStoreOptions } from '../../src/store/redis-options.ts';
import type { RedisPlanStore } from '../../src/store/redis-store.ts';
import type { FallbackReason, StoreCache, StoreMetricsSink, StoreOperation } from '../../src/store/store-metrics.ts';

/**
 * Command timeouts for tests on a busy machine: a command that times out is a counted miss or a
 * dropped write, which would change what a test checks. Tests of timeouts set their own.
 */
export const PATIENT: Partial<RedisStoreOptions> = Object.freeze({ commandTimeoutMs: 5000, connectTimeoutMs: 5000 });

/**
 * An entry with a JSON body (non-ASCII text and all), its strong ETag and a placement of `layers`
 * x `units` GPUs, as the plan service makes them; `tag` makes bodies of one id differ.
 */
export function planEntry(id: string, { layers = 3, units = 8, gpus = 4, tag = '' } = {}): PlanEntry {
  const unit2gpu = new Int32Array(layers * units).map((_, i) => (i * 7 + layers) % gpus);
  const plan = {
    id,
    model: { id: `модель-${tag}` },
    granularity: 'query-head',
    layers: Array.from({ length: layers }, (_, l) => ({
      layer: l,
      unit2gpu: Array.from(unit2gpu.subarray(l * units, (l + 1) * units)),
    })),
  };
  const body = Buffer.from(JSON.stringify(plan), 'utf8');
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
  return { id, body, etag, facts: { modelId: plan.model.id, granularity: 'query-head', layers, units }, unit2gpu };
}

/** The fields a stored entry must give back exactly. */
export function entryShape(entry: PlanEntry | undefined): unknown {
  if (entry === undefined) return undefined;
  return { ...entry, body: entry.body.toString('base64'), unit2gpu: Array.from(entry.unit2gpu) };
}

export type StoreEvent =
  | `${'hit' | 'miss' | 'evicted'}:${StoreCache}`
  | `error:${StoreOperation}`
  | `fallback:${FallbackReason}`
  | 'leaseWait'
  | 'leaseTakeover';

/** A sink that counts each event and emits it, so a test can wait for the n-th one. */
export class RecordingMetrics implements StoreMetricsSink {
  readonly counts = new Map<StoreEvent, number>();
  readonly #events = new EventEmitter();

  count(event: StoreEvent): number {
    return this.counts.get(event) ?? 0;
  }

  /** Resolves once `event` has happened `times` times in all. */
  async until(event: StoreEvent, times = 1): Promise<void> {
    while (this.count(event) < times) await once(this.#events, event);
  }

  #record(event: StoreEvent): void {
    this.counts.set(event, this.count(event) + 1);
    this.#events.emit(event);
  }

  hit(cache: StoreCache): void {
    this.#record(`hit:${cache}`);
  }
  miss(cache: StoreCache): void {
    this.#record(`miss:${cache}`);
  }
  evicted(cache: StoreCache): void {
    this.#record(`evicted:${cache}`);
  }
  storeError(operation: StoreOperation): void {
    this.#record(`error:${operation}`);
  }
  fallback(reason: FallbackReason): void {
    this.#record(`fallback:${reason}`);
  }
  leaseWait(): void {
    this.#record('leaseWait');
  }
  leaseTakeover(): void {
    this.#record('leaseTakeover');
  }
}

/** Resolves when the store is (or becomes) `state`. */
export async function untilState(store: RedisPlanStore, state: StoreState): Promise<void> {
  if (store.state() === state) return;
  await new Promise<void>((resolve) => {
    const stop = store.onState((next) => {
      if (next !== state) return;
      stop();
      resolve();
    });
  });
}

/** A solve the test holds: `calls` counts its runs; each run answers once `release` is called. */
export interface HeldSolve {
  readonly solve: () => Promise<PlanEntry>;
  readonly calls: () => number;
  /** Resolves at the n-th run's start. */
  started(n?: number): Promise<void>;
  release(entry: PlanEntry): void;
  fail(error: Error): void;
}

export function heldSolve(): HeldSolve {
  const events = new EventEmitter();
  let calls = 0;
  let answer: { entry?: PlanEntry; error?: Error } | undefined;
  return {
    solve: async () => {
      calls += 1;
      events.emit('start');
      if (answer === undefined) await once(events, 'answer');
      if (answer?.error) throw answer.error;
      return answer!.entry!;
    },
    calls: () => calls,
    async started(n = 1) {
      while (calls < n) await once(events, 'start');
    },
    release(entry) {
      answer = { entry };
      events.emit('answer');
    },
    fail(error) {
      answer = { error };
      events.emit('answer');
    },
  };
}
