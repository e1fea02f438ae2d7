/**
 * The Plan the CLI, the HTTP API, tests and clients share: the types openapi.yaml generates
 * (src/api-types.ts), so that what the planner builds is what the contract promises.
 */
import type { components } from '../api-types.ts';

export { ENGINE_NAMES, type EngineName } from '../solver/engines/index.ts';

/** Bumped whenever an engine change can change an answer; part of every plan id. */
export const ENGINE_VERSION = '4';

type Schemas = components['schemas'];

export type Plan = Schemas['Plan'];
/** A layer of a plan: the engine's answer (a LayerResult) plus the baselines it is compared with. */
export type PlanLayer = Schemas['PlanLayer'];
export type PlanTotals = Schemas['PlanTotals'];
/** A layer of a re-plan, against its running placement (GPU labels are the running ones). */
export type LayerMigration = Schemas['LayerMigration'];
