/**
 * `npm start`: serves the HTTP API with embedded defaults (registry from models/, in-memory cache,
 * solver worker pool). On SIGTERM or SIGINT it drains: /readyz turns 503, the listener stops
 * accepting, in-flight requests (solves included) finish, idle connections close, the workers are
 * terminated, and the process exits 0 (1 when DRAIN_TIMEOUT_MS passes first).
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { loadConfig } from './config.ts';
import { resolveCostModel } from './cost/registry.ts';
import { buildApp, type HplbApp } from './http/app.ts';
import { createSolverPool } from './pool/solver-pool.ts';
import { loadRegistry } from './profiles/registry.ts';

const config = loadConfig(process.env);
const logger = pino({ level: config.logLevel, base: { service: 'hplb' } });

let hplb: HplbApp | undefined;
const pool = createSolverPool({ size: config.solverWorkers, onWorkerRestart: (reason) => hplb?.workerRestarted(reason) });
hplb = buildApp({ config, runner: pool, registry: loadRegistry(), logger, resolveCostModel });

const server = hplb.app.listen(config.port, config.host, () => {
  const { address, port } = server.address() as AddressInfo;
  logger.info({ address, port, workers: pool.concurrency }, 'listening');
});
server.on('error', (error) => {
  logger.fatal({ err: error }, 'cannot listen');
  process.exit(1);
});
pool.ready().then(
  () => logger.info('solver workers ready'),
  (error: unknown) => logger.error({ err: error }, 'solver workers failed to start; /readyz stays 503'),
);

let stopping = false;
function drain(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'draining');
  hplb!.beginDrain();
  setTimeout(() => {
    logger.error({ drainTimeoutMs: config.drainTimeoutMs }, 'drain timed out; closing connections');
    server.closeAllConnections();
    process.exit(1);
  }, config.drainTimeoutMs).unref();
  // close() stops accepting and resolves once every connection has ended; idle keep-alive
  // connections are closed now, busy ones after their response (sent with Connection: close).
  server.close(() => {
    pool.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'solver pool did not close cleanly');
        process.exit(1);
      },
    );
  });
  server.closeIdleConnections();
}
process.once('SIGTERM', () => drain('SIGTERM'));
process.once('SIGINT', () => drain('SIGINT'));
