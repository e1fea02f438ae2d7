// The entry of a worker thread started from TypeScript sources (tests, `npm start` under tsx).
// Node 20 applies no loader hooks to worker threads (nodejs/node#47747), so tsx is registered here,
// in the thread, before the worker module named by worker-pool.ts is imported. The build (dist/)
// starts its .js worker modules directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const worker = await import(workerData.entry);
export default worker.default;
