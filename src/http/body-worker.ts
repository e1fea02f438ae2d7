/**
 * Entry of a body worker thread (started by body-pool.ts): builds what body-work.ts needs once,
 * posts `ready`, then answers each BodyRequest with a BodyReply.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { doBodyWork, type BodyReply, type BodyRequest, type BodyWorkerData } from './body-work.ts';
import { createBodyWorkSetup } from './body-work-setup.ts';

const port = parentPort;
if (!port) throw new Error('body-worker must be started as a worker thread by the body pool');

const setup = createBodyWorkSetup(workerData as BodyWorkerData);
port.on('message', ({ kind, bytes }: BodyRequest) => {
  port.postMessage({ outcome: doBodyWork(kind, bytes, setup) } satisfies BodyReply);
});
port.postMessage('ready');
