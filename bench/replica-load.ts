/**
 * bench:replicas's load: services as child processes (bench/reliability-client.ts's startService),
 * their /metrics, and request loops that record each answer's status and latency by phase.
 */
import { call, type Service } from './reliability-client.ts';

/** The sum of a metric's samples in Prometheus text (every label set), 0 when absent. */
export function metricSum(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{.*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) total += Number(m[2]);
  }
  return total;
}

/** A metric summed over services. */
export async function summedMetric(services: readonly Service[], name: string): Promise<number> {
  const texts = await Promise.all(services.map(async (s) => (await call(s.base, 'GET', '/metrics')).body.toString()));
  return texts.reduce((total, text) => total + metricSum(text, name), 0);
}

export interface PhaseStats {
  readonly answers: number;
  /** Answers by status (0: no answer: the connection failed or timed out). */
  readonly statuses: Record<string, number>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Request loops on the services (`loops` each), a request after another, each answer counted in the current phase. */
export function startLoad(
  services: readonly Service[],
  loops: number,
  request: (service: Service, i: number) => Promise<{ status: number; ms: number }>,
) {
  type Tally = { statuses: Map<number, number>; latencies: number[] };
  const phases = new Map<string, Tally>();
  let phase = 'start';
  let running = true;
  const loop = async (service: Service): Promise<void> => {
    for (let i = 0; running; i++) {
      const answer = await request(service, i);
      const stats: Tally = phases.get(phase) ?? { statuses: new Map(), latencies: [] };
      phases.set(phase, stats);
      stats.statuses.set(answer.status, (stats.statuses.get(answer.status) ?? 0) + 1);
      stats.latencies.push(answer.ms);
    }
  };
  const all = services.flatMap((service) => Array.from({ length: loops }, () => loop(service)));
  return {
    /** Answers from now on count under `name`. */
    phase(name: string): void {
      phase = name;
    },
    async stop(): Promise<Record<string, PhaseStats>> {
      running = false;
      await Promise.all(all);
      const report: Record<string, PhaseStats> = {};
      for (const [name, { statuses, latencies }] of phases) {
        latencies.sort((a, b) => a - b);
        report[name] = {
          answers: latencies.length,
          statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
          p50Ms: round(percentile(latencies, 0.5)),
          p99Ms: round(percentile(latencies, 0.99)),
          maxMs: round(latencies.at(-1) ?? Number.NaN),
        };
      }
      return report;
    },
  };
}

/** Resolves once every service's /readyz says the store is `state` (asked every 50 ms). */
export async function untilStores(services: readonly Service[], state: 'ok' | 'degraded'): Promise<void> {
  for (const service of services) {
    for (;;) {
      const res = await call(service.base, 'GET', '/readyz');
      if (res.status === 200 && JSON.parse(res.body.toString()).checks.store === state) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
