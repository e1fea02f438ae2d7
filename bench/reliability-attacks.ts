/**
 * The reliability bench's attack classes. Each sends a bounded number of requests (and stops
 * issuing new ones after its time cap) and returns the answers it got; the runner measures /livez,
 * RSS and crashes around it.
 */
import { call, open, raw, runPool, seeded, type Answer, type Service } from './reliability-client.ts';

export interface AttackResult {
  readonly answers: readonly Answer[];
  /** Class-specific figures (overruns, 401/429 counts, problem+json answers to parser errors). */
  readonly notes?: Record<string, number | string>;
}

/**
 * An attack class, prepared: its requests are built and serialised before it is returned, so the
 * bench's own work on them (JSON.stringify of megabyte bodies) is not in the measured window.
 */
export type AttackRun = () => Promise<AttackResult>;

export interface AttackContext {
  readonly service: Service;
  /** Headers every request carries (the bench's API key). */
  readonly auth: Record<string, string>;
  /** GETs each unread pipeline sends in one write (the slowloris class; --unread-depth). */
  readonly unreadDepth: number;
}

const MODEL = 'llama-3-8b-instruct-262k-minference';

/** A request body serialised ahead of time. */
const json = (body: unknown): Buffer => Buffer.from(JSON.stringify(body));

/** Runs jobs until they are done or `capMs` has passed (the rest are not sent). */
function capped(jobs: (() => Promise<Answer>)[], concurrency: number, capMs: number): Promise<Answer[]> {
  const stopAt = performance.now() + capMs;
  const guarded = jobs.map(
    (job) => () => (performance.now() < stopAt ? job() : Promise.resolve(null as unknown as Answer)),
  );
  return runPool(guarded, concurrency).then((answers) => answers.filter((a) => a !== null));
}

const NASTY: readonly unknown[] = [
  1e308,
  -1e308,
  5e-324,
  -0,
  0,
  -1,
  1.5,
  2 ** 53 + 2,
  1e21,
  '',
  'x'.repeat(20_000),
  '\u{1F4A5}\u0000\uFFFF',
  null,
  true,
  [],
  {},
  { __proto__: { polluted: true } },
  new Array(50_000).fill(0),
  nest(3000),
  'max:0',
  'max:999999999',
];

function nest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** Schema-shaped requests with one value replaced by a nasty one. */
export function fuzz({ service, auth }: AttackContext): AttackRun {
  const rnd = seeded(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const jobs: (() => Promise<Answer>)[] = [];
  for (let i = 0; i < 600; i++) {
    const kind = i % 3;
    if (kind === 0) {
      const body: Record<string, unknown> = {
        costs: [
          [4, 3, 2, 1],
          [1, 1, 1, 5],
        ],
        gpus: { count: 2, speeds: [1, 0.5] },
        constraints: { unitsPerGpu: 'free', pins: [{ unit: 0, gpu: 1 }] },
        solver: { engine: pick(['auto', 'ilp', 'greedy']), timeLimitMs: 200 },
      };
      const paths = [
        ['costs', 0, 0],
        ['costs', 1],
        ['gpus', 'count'],
        ['gpus', 'speeds', 0],
        ['gpus', 'speeds'],
        ['constraints', 'unitsPerGpu'],
        ['constraints', 'pins', 0, 'unit'],
        ['solver', 'timeLimitMs'],
        ['solver', 'gapTolerance'],
        ['kvGroupSize'],
        ['model'],
        ['workload'],
      ];
      setPath(body, pick(paths), pick(NASTY));
      const bytes = json(body);
      jobs.push(() => call(service.base, 'POST', '/v1/plans', bytes, auth));
    } else if (kind === 1) {
      const body: Record<string, unknown> = {
        target: 0.9,
        workload: { seqLen: 4096, phase: 'prefill' },
        curves: [
          {
            layer: 0,
            head: 0,
            points: [
              { budget: 64, recovery: 0.5 },
              { budget: 1024, recovery: 0.95 },
            ],
          },
        ],
      };
      setPath(
        body,
        pick([
          ['target'],
          ['workload', 'seqLen'],
          ['curves', 0, 'points', 0, 'budget'],
          ['curves', 0, 'layer'],
          ['curves'],
        ]),
        pick(NASTY),
      );
      const bytes = json(body);
      jobs.push(() => call(service.base, 'POST', '/v1/budgets', bytes, auth));
    } else {
      const value = encodeURIComponent(String(pick(NASTY)).slice(0, 2000));
      const param = pick(['gpus', 'seqLen', 'unitsPerGpu', 'engine', 'costModel', 'x']);
      jobs.push(() =>
        call(service.base, 'GET', `/v1/models/${MODEL}/plan?gpus=8&engine=greedy&${param}=${value}`, undefined, auth),
      );
    }
  }
  return async () => ({ answers: await capped(jobs, 8, 40_000) });
}

function setPath(target: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let at: Record<string | number, unknown> = target;
  for (const key of path.slice(0, -1)) {
    at[key] ??= {};
    at = at[key] as Record<string | number, unknown>;
  }
  at[path[path.length - 1]] = value;
}

/** Problems far larger than any model: many one-head layers, pins on every layer, big budgets bodies. */
export function oversized({ service, auth }: AttackContext): AttackRun {
  const jobs: (() => Promise<Answer>)[] = [];
  for (let i = 0; i < 6; i++) {
    const costs = Array.from({ length: 262_144 }, () => [1]);
    costs[0] = [262_144 + i];
    const bytes = json({ costs, gpus: { count: 1 } });
    jobs.push(() => call(service.base, 'POST', '/v1/plans', bytes, auth));
  }
  const layers = Array.from({ length: 12_000 }, () => [1]);
  const pins = Array.from({ length: 12_000 }, () => ({ unit: 0, gpu: 0 }));
  const pinned = json({ costs: layers, gpus: { count: 1 }, constraints: { pins } });
  jobs.push(() => call(service.base, 'POST', '/v1/plans', pinned, auth));
  const curves = Array.from({ length: 5000 }, (_, h) => ({
    layer: Math.floor(h / 64),
    head: h % 64,
    points: Array.from({ length: 6 }, (_, p) => ({ budget: 64 * (p + 1), recovery: 0.5 + p * 0.09 })),
  }));
  for (let i = 0; i < 4; i++) {
    const bytes = json({ target: 0.9 + i * 0.01, curves });
    jobs.push(() => call(service.base, 'POST', '/v1/budgets', bytes, auth));
  }
  return async () => ({ answers: await capped(jobs, 4, 60_000) });
}

function randomCosts(rnd: () => number, layers: number, heads: number): number[][] {
  return Array.from({ length: layers }, () => Array.from({ length: heads }, () => Math.round(1000 + rnd() * 9000)));
}

/** Many distinct cold solves at once. */
export function coldSolves({ service, auth }: AttackContext): AttackRun {
  const rnd = seeded(7);
  const jobs = Array.from({ length: 40 }, () => {
    const body = json({ costs: randomCosts(rnd, 8, 32), gpus: { count: 8 }, solver: { timeLimitMs: 1000 } });
    return () => call(service.base, 'POST', '/v1/plans', body, auth);
  });
  return async () => ({ answers: await capped(jobs, 20, 45_000) });
}

/** Distinct cheap plans (greedy) and distinct lookup URLs: fills the plan cache and the URL memo. */
export function cacheFlood({ service, auth }: AttackContext): AttackRun {
  const rnd = seeded(11);
  const jobs: (() => Promise<Answer>)[] = [];
  for (let i = 0; i < 400; i++) {
    const body = json({ costs: randomCosts(rnd, 32, 64), gpus: { count: 8 }, solver: { engine: 'greedy' } });
    jobs.push(() => call(service.base, 'POST', '/v1/plans', body, auth));
  }
  for (let i = 0; i < 100; i++) {
    jobs.push(() =>
      call(service.base, 'GET', `/v1/models/${MODEL}/plan?gpus=8&engine=greedy&seqLen=${4096 + i}`, undefined, auth),
    );
  }
  return async () => ({ answers: await capped(jobs, 12, 50_000) });
}

/** Slow header senders, and clients that pipeline GETs of a large plan without ever reading. */
export function slowAndUnread({ service, auth, unreadDepth }: AttackContext): AttackRun {
  return async () => {
    const rnd = seeded(3);
    const created = await call(
      service.base,
      'POST',
      '/v1/plans',
      { costs: randomCosts(rnd, 64, 128), gpus: { count: 8 }, solver: { engine: 'greedy' } },
      auth,
    );
    const location = String(created.headers.location ?? '/v1/plans/0');
    const sockets = await Promise.all(Array.from({ length: 80 }, () => open(service.port)));
    const slow = sockets.slice(0, 60);
    const unread = sockets.slice(60);
    for (const s of unread) {
      s.pause();
      s.write(`GET ${location} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(unreadDepth));
    }
    // The slow sockets' data is read (and dropped): a socket whose data is never read never sees
    // the server's FIN, so it would never count as closed by the server.
    const byServer = { closed: 0, answered408: 0 };
    for (const s of slow) {
      s.on('data', (chunk: Buffer) => {
        if (chunk.toString('latin1').startsWith('HTTP/1.1 408 ')) byServer.answered408 += 1;
      });
      s.once('end', () => {
        byServer.closed += 1;
      });
    }
    // Longer than HEADERS_TIMEOUT_MS (10 s by default) plus the server's check interval.
    for (let t = 0; t < 14; t++) {
      for (const s of slow)
        if (!s.destroyed && s.writable) s.write(t === 0 ? 'POST /v1/plans HTTP/1.1\r\nHost: x\r\n' : `X-${t}: y\r\n`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (const s of sockets) s.destroy();
    // The server's own count of connections it closed for leaving too much unread.
    const metrics = (await call(service.base, 'GET', '/metrics', undefined, auth)).body.toString('utf8');
    const unreadClosed = /^hplb_connections_closed_total\{reason="unread"\} (\d+)/m.exec(metrics)?.[1] ?? '0';
    // This scrape resets the service's event-loop delay histogram: its max so far is the class's.
    const loopMaxS = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1];
    return {
      answers: [created],
      notes: {
        slowSocketsClosedByServer: `${byServer.closed}/${slow.length}`,
        slowAnswered408: byServer.answered408,
        unreadPipelines: unread.length,
        unreadClosedByServer: unreadClosed,
        ...(loopMaxS === undefined ? {} : { eventLoopMaxMs: Math.round(Number(loopMaxS) * 1e4) / 10 }),
      },
    };
  };
}

/** Unauthenticated writes, a burst from one client, malformed requests, traversal, /metrics. */
export function probes({ service }: AttackContext): AttackRun {
  return async () => {
    const answers: Answer[] = [];
    const noKey = await call(service.base, 'POST', '/v1/plans', { costs: [[1, 2]], gpus: { count: 2 } });
    const metrics = await call(service.base, 'GET', '/metrics');
    answers.push(noKey, metrics);
    const burst = await runPool(
      Array.from(
        { length: 360 },
        (_, i) => () =>
          call(
            service.base,
            'POST',
            '/v1/budgets',
            { target: 0.9, curves: [{ layer: 0, head: i, points: [{ budget: 64, recovery: 0.95 }] }] },
            { authorization: 'Bearer probe-key-0123456789' },
          ),
      ),
      16,
    );
    answers.push(...burst);
    const malformed = [
      'POST /v1/plans HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET /livez HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n',
      'GET /livez HTTP/9.9\r\nHost: x\r\n\r\n',
      `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ];
    const replies = await Promise.all(malformed.map((bytes) => raw(service.port, bytes)));
    const problemJson = replies.filter((r) => /content-type: application\/problem\+json/i.test(r)).length;
    return {
      answers,
      notes: {
        unauthenticatedPost: noKey.status,
        unauthenticatedMetrics: metrics.status,
        burst429: burst.filter((a) => a.status === 429).length,
        burstWithRateLimitHeader: burst.filter(
          (a) => a.headers.ratelimit !== undefined || a.headers['ratelimit-policy'] !== undefined,
        ).length,
        malformedAnsweredProblemJson: `${problemJson}/${malformed.length}`,
      },
    };
  };
}

/** Time limits the overrun class tries, each OVERRUN_ROUNDS times (a fresh problem each time). */
const OVERRUN_LIMITS = [1, 50, 200, 1000];
const OVERRUN_ROUNDS = 5;

/**
 * ILP on hard layers (8 x 64 distinct costs, whose GLPK runs overrun short slices) with short
 * limits: every answer's time, from sending to the last byte, against limit + 10% + 100 ms.
 * The first plan (1 ms) is reported apart as the cold one: alone, or first in the bench, it pays
 * for the service's first solve (code not yet compiled, the spare worker maybe still starting).
 */
export function overrun({ service, auth }: AttackContext): AttackRun {
  return async () => {
    const rnd = seeded(5);
    const cases: { limit: number; body: Record<string, unknown> }[] = [];
    const limits = Array.from({ length: OVERRUN_ROUNDS }, () => OVERRUN_LIMITS).flat();
    for (const limit of limits) {
      cases.push({
        limit,
        body: {
          costs: randomCosts(rnd, 8, 64),
          gpus: { count: 8 },
          solver: { engine: 'ilp', timeLimitMs: limit, layerTimeLimitMs: limit },
        },
      });
    }
    let readyChecks = 0;
    let notReady = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const r = await call(service.base, 'GET', '/readyz');
        readyChecks += 1;
        if (r.status !== 200) notReady += 1;
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    const overruns: number[] = [];
    const coldBody = { ...cases[0].body, costs: randomCosts(rnd, 8, 64) };
    const cold = await call(service.base, 'POST', '/v1/plans', coldBody, auth, 15_000);
    const answers: Answer[] = [cold];
    for (const { limit, body } of cases) {
      const answer = await call(service.base, 'POST', '/v1/plans', body, auth, 15_000);
      answers.push(answer);
      overruns.push(answer.ms - (limit * 1.1 + 100));
    }
    polling = false;
    await poll;
    const worstByLimit = OVERRUN_LIMITS.map((limit) => {
      const worst = Math.max(...overruns.filter((_o, i) => cases[i].limit === limit));
      return `${limit}ms:${Math.round(worst)}`;
    });
    return {
      answers,
      notes: {
        coldOverrunMs: Math.round(cold.ms - (cases[0].limit * 1.1 + 100)),
        worstOverrunMs: Math.round(Math.max(...overruns)),
        worstByLimit: worstByLimit.join(' '),
        limitsMissed: overruns.filter((o) => o > 0).length,
        overrunsMs: overruns.map((o) => Math.round(o)).join('/'),
        readyzNot200: `${notReady}/${readyChecks}`,
      },
    };
  };
}

/** SIGTERM while solves are in flight: every request answered, exit code 0. */
export function sigterm({ service, auth }: AttackContext): AttackRun {
  return async () => {
    const rnd = seeded(9);
    const inFlight = Array.from({ length: 6 }, () =>
      call(
        service.base,
        'POST',
        '/v1/plans',
        { costs: randomCosts(rnd, 4, 32), gpus: { count: 8 }, solver: { timeLimitMs: 1500 } },
        auth,
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    service.child.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    const code = await service.exited;
    return { answers, notes: { exitCode: String(code) } };
  };
}
