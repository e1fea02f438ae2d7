/** Starting a worker thread, under tsx (tests, dev) or from the tsc build (dist/), at a lower CPU priority if asked. */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** solver-worker next to this module: .ts under tsx (tests, dev), .js in the tsc build (dist/). */
export function defaultWorkerFile(): URL {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./solver-worker.${extension}`, import.meta.url);
}

export interface StartOptions extends Omit<WorkerOptions, 'eval'> {
  /**
   * Nice value the thread gives itself before it loads anything (1-19; 0 or absent: unchanged).
   * Solver and body workers run below the event loop's priority: on a small machine a solve, a
   * megabyte body or a worker starting up would otherwise take the core the event loop needs for
   * probes, reads and the timers that cut plans at their deadline. Linux keeps a nice value per
   * thread; elsewhere it is per process, and the priority is left as it is.
   */
  readonly nice?: number;
}

/**
 * Starts a worker on a file. Node 20 ignores loader flags such as `--import tsx` in a worker's
 * execArgv (nodejs/node#47747), so a .ts entry is started by a small bootstrap that registers
 * tsx inside the worker and then imports the file; a lower priority is set by the bootstrap too.
 */
export function startWorker(file: URL, options: StartOptions = {}): Worker {
  const { nice, ...workerOptions } = options;
  const lower = nice && process.platform === 'linux' ? nice : 0;
  const typescript = file.pathname.endsWith('.ts');
  if (!typescript && lower === 0) return new Worker(file, workerOptions);
  // Raising one's own nice value needs no privilege; should the system refuse, the thread keeps its priority.
  const prelude = lower > 0 ? `try { require('node:os').setPriority(${lower}); } catch {}\n` : '';
  const load = typescript
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); });`
    : `import(${JSON.stringify(file.href)});`;
  return new Worker(prelude + load, { ...workerOptions, eval: true });
}
