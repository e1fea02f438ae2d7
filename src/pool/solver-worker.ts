/**
 * A solver worker thread (started by solver-pool.ts through worker-pool.ts): loads its own GLPK
 * instance once, builds every engine on it, then solves each layer task, reporting the engine's
 * best placement before each step that may overrun, and keeping GLPK's stretch measured across
 * tasks (createLayerSolver).
 */
import { loadGlpk } from '../planner/glpk.ts';
import { createLayerSolver, solveLayerTask, type LayerTask } from '../planner/layer-task.ts';
import { announceReady, serveTasks } from './worker-thread.ts';

// One estimate of GLPK's stretch per thread, updated by every task this thread solves.
const solver = createLayerSolver(await loadGlpk());
announceReady();

export default serveTasks((task: LayerTask, report) => solveLayerTask(task, solver, report));
