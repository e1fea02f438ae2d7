/** Probes, metrics and the contract: /livez, /healthz, /readyz, /metrics, /openapi.yaml. */
import type { RequestHandler } from 'express';
import type { components } from '../../api-types.ts';
import type { RouteContext, Routes } from '../route-context.ts';

const LIVE = Buffer.from(JSON.stringify({ status: 'ok' } satisfies components['schemas']['Liveness']));

export function registerOperationRoutes(router: Routes, ctx: RouteContext): void {
  const { deps, metrics, spec } = ctx;
  // Probes must stay cheap while solves run: a fixed body, no ETag.
  const live: RequestHandler = (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', LIVE.length);
    res.end(LIVE);
  };
  router.get('/livez', live);
  router.get('/healthz', live);

  router.get('/readyz', (_req, res) => {
    const checks = {
      registry: deps.registry.list().length > 0,
      store: ctx.store.state(),
      solver: deps.runner.isReady(),
      ...(deps.bodyPool ? { bodyWorkers: deps.bodyPool.isReady() } : {}),
      draining: ctx.draining(),
    };
    const up = checks.registry && checks.solver && checks.bodyWorkers !== false;
    const status = checks.draining ? 'draining' : up ? 'ready' : 'not_ready';
    res.setHeader('Cache-Control', 'no-store');
    res.status(status === 'ready' ? 200 : 503).json({ status, checks } satisfies components['schemas']['Readiness']);
  });

  router.get('/metrics', ctx.guards.requireKey, async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(text);
  });

  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(spec.text);
  });
}
