/**
 * The HTTP application, built from its dependencies: nothing here listens, reads the environment
 * or holds module-level state. server.ts listens; tests drive the app with supertest.
 */
import { existsSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import { HplbError } from '../errors.ts';
import type { PlanRequest } from '../planner/request.ts';
import { createAdmission } from './admission.ts';
import { guardConnections } from './connection-guard.ts';
import { createGuards } from './guards.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { loadSpec, publicDir } from './openapi.ts';
import { createLookupMemo, createPlanCache } from './plan-cache.ts';
import { createPlanService } from './plan-service.ts';
import { createPlanningContext } from './planning-context.ts';
import { createErrorHandler } from './problem.ts';
import { requestContext } from './request-context.ts';
import type { AppDeps, RouteContext } from './route-context.ts';
import { registerBudgetRoutes } from './routes/budgets.ts';
import { registerFrontierRoutes } from './routes/frontier.ts';
import { jsonBody } from './routes/json-body.ts';
import { registerModelRoutes } from './routes/models.ts';
import { registerOperationRoutes } from './routes/operations.ts';
import { registerPlanRoutes } from './routes/plans.ts';
import { registerRankRoutes } from './routes/ranks.ts';
import { createValidators } from './validation.ts';
import { createWorkSlicer } from './work-slicer.ts';

export type { AppDeps, SolverRunner } from './route-context.ts';

export interface HplbApp {
  /** The Express app (supertest drives it directly). */
  readonly app: Express;
  /** The app behind the per-connection guard (connection-guard.ts): what a server listens with. */
  readonly handler: RequestListener;
  readonly metrics: Metrics;
  /** Shutting down: /readyz answers 503, no new solves start, new requests close their connection. */
  beginDrain(): void;
  readonly draining: boolean;
  /** For the pool's onWorkerRestart hook: logged and counted. */
  workerRestarted(reason: string): void;
  /** The warm-up requests have been answered: /readyz may turn 200 (AppDeps.warmUpFirst). */
  markWarm(): void;
}

export function buildApp(deps: AppDeps): HplbApp {
  const { config, logger } = deps;
  const now = deps.now ?? performance.now.bind(performance);
  const spec = deps.spec ?? loadSpec();
  const validators = createValidators(spec.document);
  let draining = false;
  let warm = deps.warmUpFirst !== true;

  const admission = createAdmission({ maxConcurrent: config.maxConcurrentPlans, maxQueued: config.maxQueuedPlans });
  const metrics = createMetrics({
    plans: () => ({ inFlight: admission.inFlight, queued: admission.queued }),
    solver: () => ({ queueDepth: deps.runner.queueDepth, busy: deps.runner.busy }),
    cacheBytes: () => ({ ...cache.bytes(), urls: lookupMemo.calculatedSize }),
    waitingForTurn: () => slicer?.waiting ?? 0,
  });
  const cache = createPlanCache({
    maxEntries: config.cacheMaxEntries,
    maxBytes: config.cacheMaxBytes,
    ttlMs: config.cacheTtlMs,
    metrics,
    now,
  });
  const lookupMemo = createLookupMemo(config.urlMemoMaxBytes, metrics);
  const slicer = config.workSliceMs > 0 ? createWorkSlicer(config.workSliceMs, now) : undefined;
  const context = createPlanningContext(deps);
  const createPlan = validators.operation('createPlan');
  const bodyPool = deps.bodyPool;
  const service = createPlanService({
    runner: deps.runner,
    context,
    cache,
    admission,
    metrics,
    limits: config,
    validate: (body) => createPlan.body(body) as PlanRequest,
    now,
    draining: () => draining,
    ...(bodyPool ? { normaliseElsewhere: (body: unknown) => bodyPool.plan(Buffer.from(JSON.stringify(body))) } : {}),
  });
  const routes: RouteContext = {
    deps,
    validators,
    spec,
    service,
    cache,
    metrics,
    context,
    defaultCostModel: context.resolveCostModel().name,
    draining: () => draining,
    warm: () => warm,
    guards: createGuards(config, metrics),
    lookupMemo,
    work: slicer?.handler ?? ((_req, _res, next) => next()),
    jsonBody: jsonBody({
      maxBytes: config.maxBodyBytes,
      maxContainers: config.maxBodyContainers,
      ...(deps.bodyPool ? { rawAbove: config.bodyWorkerThresholdBytes, stage: deps.bodyPool.stage } : {}),
    }),
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestContext(logger, metrics, () => draining));
  // Routes straight on the app (no nested router): one dispatch level less on every request.
  // The per-model lookup is the hot path: its route is matched first.
  registerPlanRoutes(app, routes);
  registerRankRoutes(app, routes);
  registerOperationRoutes(app, routes);
  registerModelRoutes(app, routes);
  registerBudgetRoutes(app, routes);
  registerFrontierRoutes(app, routes);

  const dir = deps.publicDir === undefined ? publicDir() : deps.publicDir;
  if (dir !== null && existsSync(dir)) app.use(express.static(dir, { index: 'index.html', fallthrough: true }));

  // Known paths, unknown methods: 405 with Allow (Express answers HEAD for GET routes itself).
  for (const [path, item] of Object.entries(spec.document.paths)) {
    const allow = Object.keys(item)
      .filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
      .map((m) => m.toUpperCase());
    if (allow.includes('GET')) allow.push('HEAD');
    app.all(path.replace(/\{(\w+)\}/g, ':$1'), (req, res, next) => {
      // An allowed method gets here only when nothing answered it (GET / without a page): 404.
      if (allow.includes(req.method)) {
        next();
        return;
      }
      res.setHeader('Allow', allow.join(', '));
      throw new HplbError(
        'METHOD_NOT_ALLOWED',
        `${req.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`,
      );
    });
  }
  app.use((req) => {
    throw new HplbError(
      'ROUTE_NOT_FOUND',
      `no route ${req.method} ${req.path}; the routes are listed in /openapi.yaml`,
    );
  });
  app.use(createErrorHandler({ logger, retryAfterSeconds: () => (draining ? 5 : admission.retryAfterSeconds()) }));

  return {
    app,
    handler: guardConnections(app, config, metrics),
    metrics,
    beginDrain: () => {
      draining = true;
    },
    get draining() {
      return draining;
    },
    markWarm: () => {
      warm = true;
    },
    workerRestarted(reason) {
      metrics.workerRestarts.inc();
      logger.warn({ reason }, 'solver worker restarted');
    },
  };
}
