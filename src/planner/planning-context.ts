/** The planning context of the HTTP service, shared by the app and its body workers (src/http/body-worker.ts). */
import { HplbError } from '../errors.ts';
import type { PlanningContext } from './request.ts';
import type { CostModel } from '../cost/cost-model.ts';
import type { ModelRegistry } from '../profiles/registry.ts';

/** What the context is made of (AppDeps has both). */
export interface PlanningSources {
  readonly registry: ModelRegistry;
  readonly resolveCostModel: (name?: string) => CostModel;
}

/**
 * Models come from the registry by id only (never from a file path, which the CLI allows); cost
 * models through deps.resolveCostModel (a createCostModelResolver keeps them), with errors pointed at
 * the body's field.
 */
export function createPlanningContext(deps: PlanningSources): PlanningContext {
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

/** UNKNOWN_MODEL naming the known ids, pointed at `pointer` (the modelId path parameter by default). */
export function unknownModel(registry: ModelRegistry, id: string, pointer = '/modelId'): HplbError {
  const known = registry
    .list()
    .map((p) => p.id)
    .join(', ');
  return new HplbError('UNKNOWN_MODEL', `no model with id "${id}"; known ids: ${known}`, { pointer, rule: 'registry' });
}
