/**
 * Per-request bookkeeping: a request id (the caller's X-Request-Id when well formed, else a new
 * UUID) echoed in the response, and on finish one access-log line (method, URL, status, time;
 * never bodies) plus the request metrics, labelled by route template.
 */
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';
import type { ProblemLocals } from './problem.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Express's route path as the OpenAPI template: /v1/plans/:planId -> /v1/plans/{planId}, each
 * worked out once into `templates` (one entry per route of the app).
 */
function routeLabel(templates: Map<string, string>, req: Request, status: number): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') return status === 404 ? 'unmatched' : 'static';
  let label = templates.get(path);
  if (label === undefined) {
    label = path.replace(/:(\w+)/g, '{$1}');
    templates.set(path, label);
  }
  return label;
}

/**
 * `draining()` true: the response also asks the client to close the connection, so that a
 * shutting-down server is left with no keep-alive connections.
 */
export function requestContext(logger: Logger, metrics: Metrics, draining: () => boolean): RequestHandler {
  const templates = new Map<string, string>();
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    if (draining()) res.setHeader('Connection', 'close');
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const status = res.statusCode;
      const route = routeLabel(templates, req, status);
      metrics.httpRequests.inc({ method: req.method, route, status });
      metrics.httpDuration.observe({ method: req.method, route }, seconds);
      const code = (res.locals as ProblemLocals).errorCode;
      // The URL with its query string; bodies are never logged (pino drops an undefined code).
      logger.info(
        {
          reqId: id,
          method: req.method,
          url: req.originalUrl,
          route,
          status,
          ms: Math.round(seconds * 1e6) / 1e3,
          code,
        },
        'request',
      );
    });
    next();
  };
}
