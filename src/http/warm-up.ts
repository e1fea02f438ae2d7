/**
 * Requests an instance sends itself before it says it is ready. V8 compiles a function the first
 * time it runs: on 2 cores the first plan, the first budgets answer and the first lookup each held
 * the event loop 17-24 ms, four times a warm one, and a fresh instance met them under its first
 * traffic. server.ts sends these through its own HTTP stack once the workers are up, then marks
 * the app warm (/readyz `checks.warm`).
 */

export interface WarmUpRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: unknown;
  /** The status a healthy instance answers. */
  readonly expect: number;
}

/** One request down each hot path, its error answers included; `model` is a registry model id. */
export function warmUpRequests(model: string | undefined): readonly WarmUpRequest[] {
  const plan = { costs: [[5, 3, 2, 2]], gpus: { count: 2 }, solver: { engine: 'auto' } };
  return [
    { method: 'POST', path: '/v1/plans', body: plan, expect: 201 },
    { method: 'POST', path: '/v1/plans', body: plan, expect: 200 },
    { method: 'POST', path: '/v1/plans', body: { gpus: { count: 2 } }, expect: 400 },
    {
      method: 'POST',
      path: '/v1/budgets',
      body: { target: 0.9, curves: [{ layer: 0, head: 0, points: [{ budget: 64, recovery: 0.95 }] }] },
      expect: 200,
    },
    ...(model === undefined
      ? []
      : [
          {
            method: 'GET',
            path: `/v1/models/${encodeURIComponent(model)}/plan?gpus=2&engine=greedy`,
            expect: 200,
          } as const,
        ]),
    { method: 'GET', path: `/v1/plans/${'0'.repeat(32)}`, expect: 404 },
    { method: 'GET', path: '/metrics', expect: 200 },
  ];
}

export interface WarmUpResult {
  readonly path: string;
  readonly status: number;
  readonly expected: number;
}

/**
 * Sends the requests one after the other to `base` (with `key` as Bearer token when keys are
 * configured) and reports each status; a request that fails to connect reports status 0.
 */
export async function warmUp(base: string, requests: readonly WarmUpRequest[], key?: string): Promise<WarmUpResult[]> {
  const results: WarmUpResult[] = [];
  for (const r of requests) {
    const headers: Record<string, string> = { 'x-request-id': 'warm-up' };
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    if (r.body !== undefined) headers['content-type'] = 'application/json';
    let status = 0;
    try {
      const res = await fetch(`${base}${r.path}`, {
        method: r.method,
        headers,
        ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      status = 0;
    }
    results.push({ path: `${r.method} ${r.path}`, status, expected: r.expect });
  }
  return results;
}
