/**
 * A body worker thread (started by body-pool.ts through src/pool/worker-pool.ts): builds what
 * body-work.ts needs once, then answers each body; an answer's bytes are moved back, not copied.
 */
import { workerData } from 'node:worker_threads';
import { announceReady, serveTasks } from '../pool/worker-thread.ts';
import { createBodyWorkSetup, doBodyWork, type BodyRequest, type BodyWorkerData } from './body-work.ts';

const setup = createBodyWorkSetup((workerData as { data: BodyWorkerData }).data);
announceReady();

export default serveTasks((work: BodyRequest): unknown => doBodyWork(work, setup));
