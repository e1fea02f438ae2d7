/**
 * The HTTP application, built from its dependencies: nothing here listens, reads the environment
 * or holds module-level state. server.ts listens; tests drive the app with supertest. The
 * middleware order is in buildApp: request context, routes, static page, 405/404, error handler.
 */
import { existsSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import { HplbError } from '../errors.ts';
import { normalisePlanRequest, type NormalisedRequest, type PlanRequest } from '../planner/request.ts';
import type { PlanStore } from '../store/plan-store.ts';
import { createStores } from '../store/stores-from-config.ts';
import { createAdmission, type Admission } from './admission.ts';
import { guardConnections } from './connection-guard.ts';
import { createGuards } from './guards.ts';
import { createLookupMemo } from './lookup.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { loadSpec, publicDir, type LoadedSpec } from '../contract/openapi.ts';
import { createPlanService } from './plan-service.ts';
import { createPlanningContext } from '../planner/planning-context.ts';
import { createErrorHandler } from './problem.ts';
import { requestContext } from './request-context.ts';
import type { AppDeps, RouteContext, Routes } from './route-context.ts';
import { registerBudgetRoutes } from './routes/budgets.ts';
import { registerFrontierRoutes } from './routes/frontier.ts';
import { jsonBody, RawJsonBody } from './routes/json-body.ts';
import { registerModelRoutes } from './routes/models.ts';
import { registerOperationRoutes } from './routes/operations.ts';
import { registerPlanRoutes } from './routes/plans.ts';
import { registerRankRoutes } from './routes/ranks.ts';
import { createValidators } from '../contract/validation.ts';

export type { AppDeps, SolverRunner } from './route-context.ts';

export interface HplbApp {
  /** The Express app (supertest drives it directly). */
  readonly app: Express;
  /** The app behind the per-connection guard (connection-guard.ts): what a server listens with. */
  readonly handler: RequestListener;
  readonly metrics: Metrics;
  /** Where plans live (AppDeps.store, else the store the configuration names): server.ts closes it last. */
  readonly store: PlanStore;
  /** Shutting down: /readyz answers 503, no new solves start, new requests close their connection. */
  beginDrain(): void;
  readonly draining: boolean;
  /** For the pools' onWorkerRestart hooks: logged and counted. */
  workerRestarted(reason: string): void;
}

/** Route modules in registration order: the per-model lookup, the hot path, is matched first. */
const ROUTE_MODULES: readonly ((router: Routes, ctx: RouteContext) => void)[] = [
  registerPlanRoutes,
  registerRankRoutes,
  registerOperationRoutes,
  registerModelRoutes,
  registerBudgetRoutes,
  registerFrontierRoutes,
];

export function buildApp(deps: AppDeps): HplbApp {
  const state = { draining: false };
  const admission = createAdmission({
    maxConcurrent: deps.config.maxConcurrentPlans,
    maxQueued: deps.config.maxQueuedPlans,
  });
  const ctx = createRouteContext(deps, admission, state);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // req.ip, which rate limits key on, is the client's only behind proxies named here (TRUST_PROXY).
  app.set('trust proxy', deps.config.trustProxy);
  app.use(requestContext(deps.logger, ctx.metrics, () => state.draining));
  // Routes straight on the app (no nested router): one dispatch level less on every request.
  for (const register of ROUTE_MODULES) register(app, ctx);
  const dir = deps.publicDir === undefined ? publicDir() : deps.publicDir;
  if (dir !== null && existsSync(dir)) app.use(express.static(dir, { index: 'index.html', fallthrough: true }));
  answerUnknownRoutes(app, ctx.spec);
  const retryAfterSeconds = () => (state.draining ? 5 : admission.retryAfterSeconds());
  app.use(createErrorHandler({ logger: deps.logger, retryAfterSeconds }));

  return {
    app,
    handler: guardConnections(app, deps.config, ctx.metrics),
    metrics: ctx.metrics,
    store: ctx.store,
    beginDrain: () => {
      state.draining = true;
    },
    get draining() {
      return state.draining;
    },
    workerRestarted(reason) {
      ctx.metrics.workerRestarts.inc();
      deps.logger.warn({ reason }, 'worker restarted');
    },
  };
}

/** Everything the routes share, built once: validators, metrics, the store, the plan service. */
function createRouteContext(deps: AppDeps, admission: Admission, state: { readonly draining: boolean }): RouteContext {
  const { config } = deps;
  const spec = deps.spec ?? loadSpec();
  const validators = createValidators(spec.document);
  const metrics = createMetrics({
    plans: () => ({ inFlight: admission.inFlight, queued: admission.queued }),
    solver: () => ({ queueDepth: deps.runner.queueDepth, busy: deps.runner.busy }),
    cacheBytes: () => ({ ...store.bytes(), urls: lookupMemo.calculatedSize }),
  });
  const stores = deps.store
    ? { plans: deps.store }
    : createStores(config, {
        metrics: metrics.storeMetrics,
        logger: deps.logger,
        ...(deps.now ? { now: deps.now } : {}),
      });
  const store = stores.plans;
  const lookupMemo = createLookupMemo(config.urlMemoMaxBytes, () => metrics.cacheEvictions.inc({ cache: 'urls' }));
  const context = createPlanningContext(deps);
  const createPlan = validators.operation('createPlan');
  const { bodyPool } = deps;
  const options = { validate: (body: unknown) => createPlan.body(body) as PlanRequest, context, limits: config };
  // A request naming a registry model goes to a body worker whatever its size: each of the
  // model's heads is costed, which grows with the model.
  const normalise = async (body: unknown): Promise<NormalisedRequest> => {
    if (body instanceof RawJsonBody && bodyPool) return bodyPool.plan(body.bytes);
    const named = typeof (body as PlanRequest | null)?.model === 'string';
    if (named && bodyPool) return bodyPool.plan(Buffer.from(JSON.stringify(body)));
    return normalisePlanRequest(body, options);
  };
  const service = createPlanService({
    runner: deps.runner,
    context,
    store,
    admission,
    metrics,
    now: deps.now ?? performance.now.bind(performance),
    draining: () => state.draining,
  });
  return {
    deps,
    normalise,
    validators,
    spec,
    service,
    store,
    metrics,
    context,
    defaultCostModel: context.resolveCostModel().name,
    draining: () => state.draining,
    guards: createGuards(config, metrics, stores.rateLimits),
    lookupMemo,
    jsonBody: jsonBody({
      maxBytes: config.maxBodyBytes,
      maxContainers: config.maxBodyContainers,
      ...(bodyPool ? { rawAbove: config.bodyWorkerThresholdBytes } : {}),
    }),
  };
}

/** Known paths, unknown methods: 405 with Allow (Express answers HEAD for GET routes itself); unknown paths: 404. */
function answerUnknownRoutes(app: Express, spec: LoadedSpec): void {
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
}
