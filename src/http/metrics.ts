/**
 * The service's Prometheus metrics, on a registry of their own (no global default registry, so
 * several apps can live in one process, as they do in tests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreMetricsSink } from '../store/store-metrics.ts';

/** Live numbers read at scrape time. */
export interface MetricsSources {
  /** Plans solving now, and plans waiting for a slot. */
  readonly plans: () => { readonly inFlight: number; readonly queued: number };
  /** Layer tasks waiting for a solver worker, and workers busy. */
  readonly solver: () => { readonly queueDepth: number; readonly busy: number };
  /** Bytes held by the plan cache and the lookup URL memo. */
  readonly cacheBytes?: () => Readonly<Record<string, number>>;
}

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly cacheHits: Counter<'cache'>;
  readonly cacheMisses: Counter<'cache'>;
  readonly cacheEvictions: Counter<'cache'>;
  /** What the plan store reports: hits, misses and evictions on the three counters above, and its hplb_store_* counters. */
  readonly storeMetrics: StoreMetricsSink;
  readonly solves: Counter<'engine' | 'status'>;
  readonly solveDuration: Histogram<'engine'>;
  readonly layers: Counter<'engine' | 'status'>;
  readonly coalesced: Counter;
  readonly rejected: Counter<'reason'>;
  readonly workerRestarts: Counter;
  readonly connectionsClosed: Counter<'reason'>;
}

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  // The defaults include event-loop delay from perf_hooks.monitorEventLoopDelay, sampled every
  // 10 ms and reset at each scrape: nodejs_eventloop_lag_{min,max,mean,p50,p90,p99}_seconds.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  registerGauges([registry], sources);
  return { registry, ...createCounters([registry]) };
}

/** The live numbers, read at scrape time. */
function registerGauges(registers: Registry[], sources: MetricsSources): void {
  const gauges: readonly [string, string, () => number][] = [
    ['hplb_plans_in_flight', 'Plans being solved now.', () => sources.plans().inFlight],
    ['hplb_plan_queue_depth', 'Plans waiting for a solving slot.', () => sources.plans().queued],
    ['hplb_solver_queue_depth', 'Layer tasks waiting for a solver worker.', () => sources.solver().queueDepth],
    ['hplb_solver_workers_busy', 'Solver workers running a layer task.', () => sources.solver().busy],
  ];
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  }
  new Gauge({
    name: 'hplb_cache_bytes',
    help: 'Bytes held by a cache (plans: plan bodies; lookups; urls: validated lookup URLs).',
    labelNames: ['cache'],
    registers,
    collect() {
      for (const [cache, bytes] of Object.entries(sources.cacheBytes?.() ?? {})) this.set({ cache }, bytes);
    },
  });
}

type CounterOf = <L extends string>(name: string, help: string, labelNames?: L[]) => Counter<L>;
type CacheCounters = Pick<Metrics, 'cacheHits' | 'cacheMisses' | 'cacheEvictions' | 'storeMetrics'>;

/** The plan store's counters, and the sink the store reports through. */
function createCacheCounters(counter: CounterOf): CacheCounters {
  const cacheHits = counter(
    'hplb_plan_cache_hits_total',
    'Plan cache hits (cache: plans by id, or lookups by model query).',
    ['cache'],
  );
  const cacheMisses = counter('hplb_plan_cache_misses_total', 'Plan cache misses.', ['cache']);
  const cacheEvictions = counter('hplb_plan_cache_evictions_total', 'Plans evicted from a cache (size or TTL).', [
    'cache',
  ]);
  // The shared store's own counters (Redis; the memory store never fails or waits).
  const storeErrors = counter(
    'hplb_store_errors_total',
    'Shared store commands that failed (read as a miss, write dropped, or counted locally), by operation.',
    ['operation'],
  );
  const storeFallbacks = counter(
    'hplb_store_fallbacks_total',
    'Work done in this replica instead of through the shared store (a local solve: degraded, store_error, aborted, wait_bound; a local rate-limit count: rate_limit).',
    ['reason'],
  );
  const leaseWaits = counter('hplb_store_lease_waits_total', "Solves that waited for another replica's lease.");
  const leaseTakeovers = counter(
    'hplb_store_lease_takeovers_total',
    'Leases taken over by a waiter after their owner let them go or died.',
  );
  return {
    cacheHits,
    cacheMisses,
    cacheEvictions,
    storeMetrics: {
      hit: (cache) => cacheHits.inc({ cache }),
      miss: (cache) => cacheMisses.inc({ cache }),
      evicted: (cache) => cacheEvictions.inc({ cache }),
      storeError: (operation) => storeErrors.inc({ operation }),
      fallback: (reason) => storeFallbacks.inc({ reason }),
      leaseWait: () => leaseWaits.inc(),
      leaseTakeover: () => leaseTakeovers.inc(),
    },
  };
}

/** The counters and histograms the service increments (names are what dashboards read). */
function createCounters(registers: Registry[]): Omit<Metrics, 'registry'> {
  const counter: CounterOf = (name, help, labelNames = []) => new Counter({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets, registers });
  return {
    httpRequests: counter('hplb_http_requests_total', 'HTTP requests answered, by route template and status.', [
      'method',
      'route',
      'status',
    ]),
    httpDuration: histogram(
      'hplb_http_request_duration_seconds',
      'Time from request to response, by route template.',
      ['method', 'route'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    ),
    ...createCacheCounters(counter),
    solves: counter(
      'hplb_plan_solves_total',
      'Plans solved, by requested engine and outcome (proven: every layer proven; unproven; failed).',
      ['engine', 'status'],
    ),
    solveDuration: histogram(
      'hplb_plan_solve_duration_seconds',
      'Wall-clock time of a plan solve, from admission to answer.',
      ['engine'],
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    ),
    layers: counter('hplb_plan_layers_total', 'Layer answers in solved plans, by answering engine and layer status.', [
      'engine',
      'status',
    ]),
    coalesced: counter('hplb_plan_coalesced_total', 'Plan requests that joined an identical solve already in flight.'),
    rejected: counter(
      'hplb_plan_rejected_total',
      'Requests refused before solving (queue_full, draining, rate_limited).',
      ['reason'],
    ),
    workerRestarts: counter(
      'hplb_solver_worker_restarts_total',
      'Solver and body workers replaced after a crash, an overrun or running out of memory.',
    ),
    connectionsClosed: counter(
      'hplb_connections_closed_total',
      'Connections the service closed itself (unread: too many answers left unread).',
      ['reason'],
    ),
  };
}
