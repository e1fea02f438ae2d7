/**
 * The service's Prometheus metrics, on a registry of their own (no global default registry, so
 * several apps can live in one process, as they do in tests). Names and labels are what
 * dashboards read: COUNTERS and HISTOGRAMS below are the whole list.
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

/** [name, help, labels] of every counter, by the key the code increments it under. */
const COUNTERS = {
  httpRequests: [
    'hplb_http_requests_total',
    'HTTP requests answered, by route template and status.',
    ['method', 'route', 'status'],
  ],
  cacheHits: [
    'hplb_plan_cache_hits_total',
    'Plan cache hits (cache: plans by id, or lookups by model query).',
    ['cache'],
  ],
  cacheMisses: ['hplb_plan_cache_misses_total', 'Plan cache misses.', ['cache']],
  cacheEvictions: ['hplb_plan_cache_evictions_total', 'Plans evicted from a cache (size or TTL).', ['cache']],
  // The shared store's own counters (Redis; the memory store never fails or waits).
  storeErrors: [
    'hplb_store_errors_total',
    'Shared store commands that failed (read as a miss, write dropped, or counted locally), by operation.',
    ['operation'],
  ],
  storeFallbacks: [
    'hplb_store_fallbacks_total',
    'Work done in this replica instead of through the shared store (a local solve: degraded, store_error, aborted, wait_bound; a local rate-limit count: rate_limit).',
    ['reason'],
  ],
  leaseWaits: ['hplb_store_lease_waits_total', "Solves that waited for another replica's lease.", []],
  leaseTakeovers: [
    'hplb_store_lease_takeovers_total',
    'Leases taken over by a waiter after their owner let them go or died.',
    [],
  ],
  solves: [
    'hplb_plan_solves_total',
    'Plans solved, by requested engine and outcome (proven: every layer proven; unproven; failed).',
    ['engine', 'status'],
  ],
  layers: [
    'hplb_plan_layers_total',
    'Layer answers in solved plans, by answering engine and layer status.',
    ['engine', 'status'],
  ],
  coalesced: ['hplb_plan_coalesced_total', 'Plan requests that joined an identical solve already in flight.', []],
  rejected: [
    'hplb_plan_rejected_total',
    'Requests refused before solving (queue_full, draining, rate_limited).',
    ['reason'],
  ],
  workerRestarts: [
    'hplb_solver_worker_restarts_total',
    'Solver and body workers replaced after a crash, an overrun or running out of memory.',
    [],
  ],
  connectionsClosed: [
    'hplb_connections_closed_total',
    'Connections the service closed itself (unread: too many answers left unread).',
    ['reason'],
  ],
} as const satisfies Record<string, readonly [string, string, readonly string[]]>;

const HISTOGRAMS = {
  httpDuration: [
    'hplb_http_request_duration_seconds',
    'Time from request to response, by route template.',
    ['method', 'route'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  ],
  solveDuration: [
    'hplb_plan_solve_duration_seconds',
    'Wall-clock time of a plan solve, from admission to answer.',
    ['engine'],
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  ],
} as const satisfies Record<string, readonly [string, string, readonly string[], readonly number[]]>;

type Labels<T> = T extends readonly [string, string, readonly (infer L)[], ...unknown[]] ? L & string : never;

export type Metrics = { readonly registry: Registry } & {
  readonly [K in keyof typeof COUNTERS]: Counter<Labels<(typeof COUNTERS)[K]>>;
} & { readonly [K in keyof typeof HISTOGRAMS]: Histogram<Labels<(typeof HISTOGRAMS)[K]>> } & {
  /** What the plan store reports: hits, misses and evictions on the cache counters, and its hplb_store_* counters. */
  readonly storeMetrics: StoreMetricsSink;
};

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // The defaults include event-loop delay from perf_hooks.monitorEventLoopDelay, sampled every
  // 10 ms and reset at each scrape: nodejs_eventloop_lag_{min,max,mean,p50,p90,p99}_seconds.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  registerGauges(registers, sources);
  const made: Record<string, unknown> = { registry };
  for (const [key, [name, help, labelNames]] of Object.entries(COUNTERS))
    made[key] = new Counter({ name, help, labelNames: [...labelNames], registers });
  for (const [key, [name, help, labelNames, buckets]] of Object.entries(HISTOGRAMS))
    made[key] = new Histogram({ name, help, labelNames: [...labelNames], buckets: [...buckets], registers });
  const metrics = made as Omit<Metrics, 'storeMetrics'>;
  const storeMetrics: StoreMetricsSink = {
    hit: (cache) => metrics.cacheHits.inc({ cache }),
    miss: (cache) => metrics.cacheMisses.inc({ cache }),
    evicted: (cache) => metrics.cacheEvictions.inc({ cache }),
    storeError: (operation) => metrics.storeErrors.inc({ operation }),
    fallback: (reason) => metrics.storeFallbacks.inc({ reason }),
    leaseWait: () => metrics.leaseWaits.inc(),
    leaseTakeover: () => metrics.leaseTakeovers.inc(),
  };
  return { ...metrics, storeMetrics };
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
