/** The planning context of the service, shared by the app and the body workers (body-worker.ts). */
import { HplbError } from '../errors.ts';
import type { PlanningContext } from '../planner/request.ts';
import type { AppDeps } from './route-context.ts';
import { unknownModel } from './routes/models.ts';

/**
 * Models come from the registry by id only (never from a file path, which the CLI allows); cost
 * models through deps.resolveCostModel (a createCostModelResolver keeps them), with errors pointed at
 * the body's field.
 */
export function createPlanningContext(deps: Pick<AppDeps, 'registry' | 'resolveCostModel'>): PlanningContext {
  return {
    resolveProfile(id) {
      const profile = deps.registry.get(id);
      if (!profile) throw unknownModel(deps.registry, id, '/model');
      return profile;
    },
    resolveCostModel(name) {
      try {
        return deps.resolveCostModel(name);
      } catch (error) {
        if (error instanceof HplbError && error.code === 'UNKNOWN_CALIBRATION') {
          throw new HplbError(error.code, error.message, { pointer: '/costModel', rule: 'registry' });
        }
        throw error;
      }
    },
  };
}
