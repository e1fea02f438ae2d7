/**
 * A solver worker thread (started by solver-pool.ts through worker-pool.ts): loads its own GLPK
 * instance once, builds every engine on it, then answers each task (solve-task.ts), keeping
 * GLPK's stretch measured across them (createLayerSolver).
 */
import { loadGlpk } from '../planner/glpk.ts';
import type { LayerTask } from '../planner/layer-task.ts';
import { createLayerSolver } from '../planner/layer-task.ts';
import { answerTask, type SolveAnswer } from './solve-task.ts';
import { announceReady, serveTasks } from './worker-pool.ts';

// One estimate of GLPK's stretch per thread, updated by every task this thread solves.
const solver = createLayerSolver(await loadGlpk());
announceReady();

export default serveTasks((task: LayerTask, report): SolveAnswer => answerTask(task, solver, report));
