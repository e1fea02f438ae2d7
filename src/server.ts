/**
 * `npm start`: serves the HTTP API with embedded defaults (registry from models/, in-memory plan
 * store, or the Redis store that replicas share when REDIS_URL is set, solver worker pool with a
 * warm spare), with the server's timeouts and connection caps set. On SIGTERM or SIGINT it drains:
 * /readyz turns 503, the listener stops accepting, in-flight requests (solves included) finish,
 * idle connections close, the workers are terminated, the store's connections are closed, and the
 * process exits 0 (1 when DRAIN_TIMEOUT_MS passes first).
 */
import { requestLimitsOf } from './planner/limits.ts';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { loadConfig } from './config.ts';
import { createCostModelResolver } from './cost/registry.ts';
import { buildApp, type HplbApp } from './http/app.ts';
import { createBodyPool } from './http/body-pool.ts';
import { createHttpServer } from './http/server-options.ts';
import { createSolverPool } from './pool/solver-pool.ts';
import { loadRegistry } from './profiles/registry.ts';

const config = loadConfig(process.env);
// Asynchronous stdout: lines written while a write is pending go out together in the next one,
// so a busy server makes far fewer write calls than requests.
const destination = pino.destination({ dest: 1, sync: false });
const logger = pino({ level: config.logLevel, base: { service: 'hplb' } }, destination);
const exit = (code: number): never => {
  destination.flushSync();
  process.exit(code);
};

let hplb: HplbApp | undefined;
const pool = createSolverPool({
  size: config.solverWorkers,
  spares: config.spareWorkers,
  onWorkerRestart: (reason) => hplb?.workerRestarted(reason),
});
// Large bodies are parsed and normalised off the event loop (BODY_WORKERS=0: on it).
const bodyPool =
  config.bodyWorkers > 0
    ? createBodyPool({
        size: config.bodyWorkers,
        maxQueued: config.maxQueuedBodies,
        timeLimitMs: config.bodyTimeLimitMs,
        data: { limits: requestLimitsOf(config), maxBodyContainers: config.maxBodyContainers },
        onWorkerRestart: (reason) => hplb?.workerRestarted(reason),
      })
    : undefined;
const registry = loadRegistry();
hplb = buildApp({
  config,
  runner: pool,
  registry,
  logger,
  resolveCostModel: createCostModelResolver(),
  bodyPool,
});

const server = createHttpServer(hplb.handler, config).listen(config.port, config.host, () => {
  const { address, port } = server.address() as AddressInfo;
  const url = `${baseUrl(address, port)}/`;
  logger.info({ address, port, workers: pool.concurrency, store: hplb.store.kind, url }, 'listening');
  // For a person at a terminal (the JSON lines above and below are for log collectors).
  if (process.stderr.isTTY) process.stderr.write(`hplb listening on ${baseUrl(address, port)}/\n`);
});
const listening = new Promise<AddressInfo>((resolve) =>
  server.once('listening', () => resolve(server.address() as AddressInfo)),
);
server.on('error', (error) => {
  logger.fatal({ err: error }, 'cannot listen');
  exit(1);
});
pool.ready().then(
  () => logger.info('solver workers ready'),
  (error: unknown) => logger.error({ err: error }, 'solver workers failed to start; /readyz stays 503'),
);
bodyPool?.ready().then(
  () => logger.info({ workers: config.bodyWorkers }, 'body workers ready'),
  (error: unknown) => logger.error({ err: error }, 'body workers failed to start; /readyz stays 503'),
);
// /readyz turns 200 once it listens and its workers are up; workers that never start leave it 503.
Promise.all([listening, pool.ready(), bodyPool?.ready()]).then(
  () => logger.info('ready'),
  () => undefined,
);

/** The address a client on this host reaches the server at (a wildcard address means loopback). */
function baseUrl(address: string, port: number): string {
  const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

let stopping = false;
function drain(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'draining');
  hplb!.beginDrain();
  setTimeout(() => {
    logger.error({ drainTimeoutMs: config.drainTimeoutMs }, 'drain timed out; closing connections');
    server.closeAllConnections();
    exit(1);
  }, config.drainTimeoutMs).unref();
  // close() stops accepting and calls back once every connection has ended. Idle keep-alive
  // connections are closed now and again as in-flight requests finish, since a connection whose
  // request started before the drain stays open after its response.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  server.close(() => {
    clearInterval(sweep);
    Promise.all([pool.close(), bodyPool?.close(), hplb!.store.close()]).then(
      () => {
        logger.info('stopped');
        exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'solver pool did not close cleanly');
        exit(1);
      },
    );
  });
  server.closeIdleConnections();
}
process.once('SIGTERM', () => drain('SIGTERM'));
process.once('SIGINT', () => drain('SIGINT'));
