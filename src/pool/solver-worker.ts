/**
 * A solver worker thread (started by solver-pool.ts through worker-pool.ts): loads its own GLPK
 * instance once, builds every engine on it, then answers each task (solve-task.ts).
 */
import { loadGlpk } from '../planner/glpk.ts';
import type { LayerSolver } from '../planner/layer-task.ts';
import { createEngines } from '../solver/engines/index.ts';
import { answerTask, type SolveAnswer, type SolveRequest } from './solve-task.ts';
import { announceReady, serveTasks } from './worker-pool.ts';

const glpk = await loadGlpk();
const solver: LayerSolver = { glpk, engines: createEngines(glpk) };
announceReady();

export default serveTasks((request: SolveRequest): SolveAnswer => answerTask(request, solver));
