/**
 * Per-request bookkeeping: a request id (the caller's X-Request-Id when well formed, else a new
 * UUID) echoed in the response, and on finish one access-log line through pino-http (method, URL,
 * route, status, time, error code; never headers or bodies) plus the request metrics, labelled by
 * route template.
 */
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Metrics } from './metrics.ts';

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
 * The request id, the access log and the request metrics; `draining()` true: the response also
 * asks the client to close the connection, so that a shutting-down server keeps no keep-alive ones.
 */
export function requestContext(logger: Logger, metrics: Metrics, draining: () => boolean): RequestHandler[] {
  const templates = new Map<string, string>();
  const line = (req: Request, res: Response, ms: number) => ({
    method: req.method,
    url: req.originalUrl,
    route: routeLabel(templates, req, res.statusCode),
    status: res.statusCode,
    ms,
    code: res.locals.errorCode,
  });
  const log = pinoHttp<Request, Response>({
    logger,
    genReqId: (req, res) => {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // One line per request, bound to its id only: no request or response headers, never bodies.
    // pino-http binds the request to a child logger of every request: serialising it to nothing
    // keeps headers out of the log and costs nothing per request.
    quietReqLogger: true,
    quietResLogger: true,
    wrapSerializers: false,
    serializers: { req: () => undefined, res: () => undefined },
    customAttributeKeys: { reqId: 'reqId', responseTime: 'ms' },
    customLogLevel: () => 'info',
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request',
    customSuccessObject: (req, res, value: { ms: number }) => line(req, res, value.ms),
    customErrorObject: (req, res, _error, value: { ms: number }) => line(req, res, value.ms),
  });
  const measure: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    if (draining()) res.setHeader('Connection', 'close');
    res.on('finish', () => {
      const route = routeLabel(templates, req, res.statusCode);
      metrics.httpRequests.inc({ method: req.method, route, status: res.statusCode });
      metrics.httpDuration.observe({ method: req.method, route }, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  };
  return [log, measure];
}
