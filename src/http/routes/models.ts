/** GET /v1/models and GET /v1/models/{modelId}: the registry with provenance and budget heterogeneity. */
import { DEFAULT_WORKLOAD } from '../../cost/cost-model.ts';
import type { Profile } from '../../profiles/profile.ts';
import { summarizeProfile, type LayerSummary } from '../../profiles/summary.ts';
import type { components } from '../../api-types.ts';
import { modelInPath, type RouteContext, type Routes } from '../route-context.ts';

type Schemas = components['schemas'];

export function registerModelRoutes(router: Routes, ctx: RouteContext): void {
  const { registry } = ctx.deps;
  const list = ctx.validators.operation('listModels');
  const get = ctx.validators.operation('getModel');
  // The registry does not change while the service runs: the list is rendered once.
  const listBody = JSON.stringify({
    models: registry
      .list()
      .map((p) => modelSummary(p, DEFAULT_WORKLOAD.seqLen, summarizeProfile(p, DEFAULT_WORKLOAD.seqLen))),
  } satisfies Schemas['ModelList']);

  router.get('/v1/models', ctx.guards.requireKeyForReads, (req, res) => {
    list.query(req.query);
    res.type('application/json').send(listBody);
  });

  router.get('/v1/models/:modelId', ctx.guards.requireKeyForReads, (req, res) => {
    const { modelId } = get.path(req.params) as { modelId: string };
    const { seqLen = DEFAULT_WORKLOAD.seqLen } = get.query(req.query) as { seqLen?: number };
    const profile = modelInPath(ctx, modelId);
    const layers = summarizeProfile(profile, seqLen);
    res.json({ ...modelSummary(profile, seqLen, layers), layers } satisfies Schemas['ModelDetail']);
  });
}

/** @param layers summarizeProfile(profile, seqLen) */
function modelSummary(profile: Profile, seqLen: number, layers: readonly LayerSummary[]): Schemas['ModelSummary'] {
  const cvs = layers.map((l) => l.cv);
  return {
    id: profile.id,
    displayName: profile.displayName,
    version: profile.version,
    architecture: profile.architecture,
    provenance: profile.provenance,
    heterogeneity: {
      seqLen,
      maxDistinctBudgets: Math.max(...layers.map((l) => l.distinctBudgets)),
      maxOverMin: Math.max(...layers.map((l) => l.maxOverMin)),
      meanCv: cvs.reduce((a, b) => a + b, 0) / cvs.length,
      maxCv: Math.max(...cvs),
    },
  };
}
