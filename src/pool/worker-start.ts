/** Starting a solver worker thread, under tsx (tests, dev) or from the tsc build (dist/). */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** solver-worker next to this module: .ts under tsx (tests, dev), .js in the tsc build (dist/). */
export function defaultWorkerFile(): URL {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./solver-worker.${extension}`, import.meta.url);
}

/**
 * Starts a worker on a file. Node 20 ignores loader flags such as `--import tsx` in a worker's
 * execArgv (nodejs/node#47747), so a .ts entry is started by a small bootstrap that registers
 * tsx inside the worker and then imports the file.
 */
export function startWorker(file: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  if (!file.pathname.endsWith('.ts')) return new Worker(file, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
