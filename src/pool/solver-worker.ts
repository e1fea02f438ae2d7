/**
 * Entry of a solver worker thread: loads GLPK once, builds every engine on it, posts `ready`,
 * then answers each TaskMessage with a WorkerMessage (see protocol.ts). Started by solver-pool.ts.
 */
import { parentPort } from 'node:worker_threads';
import { loadGlpk } from '../planner/glpk.ts';
import { createEngines } from '../solver/engines/index.ts';
import { answerTask, type TaskMessage, type WorkerMessage } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('solver-worker must be started as a worker thread by the solver pool');

const engines = createEngines(await loadGlpk());
port.on('message', (message: TaskMessage) => {
  const post = (answer: WorkerMessage) => port.postMessage(answer);
  post(answerTask(message, engines, post));
});
port.postMessage({ type: 'ready' } satisfies WorkerMessage);
