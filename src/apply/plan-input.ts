/**
 * The plan `apply` works from: a Plan JSON file, or a plan id fetched from a running service
 * (GET /v1/plans/{id}). Only the fields the rewrite reads are checked, each with a clear error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { HplbError } from '../errors.ts';
import type { PlanLike } from './head-order.ts';

const PLAN_ID = /^[0-9a-f]{32}$/;

function bad(where: string, pointer: string, rule: string): never {
  throw new HplbError('INVALID_PROBLEM', `${where}: ${pointer} ${rule}`, { pointer, rule });
}

const isIntList = (value: unknown): value is number[] => Array.isArray(value) && value.every((x) => Number.isInteger(x));

/** Checks that `value` has the Plan fields the rewrite needs. `where` names the source in errors. */
export function parsePlan(value: unknown, where: string): PlanLike {
  const plan = value as Record<string, unknown> | null;
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) bad(where, '/', 'must be a Plan object');
  if (typeof plan.id !== 'string') bad(where, '/id', 'must be a string');
  const model = plan.model as { id?: unknown } | undefined;
  if (typeof model !== 'object' || model === null || (model.id !== null && typeof model.id !== 'string')) bad(where, '/model/id', 'must be a string or null');
  const gpus = plan.gpus as { count?: unknown } | undefined;
  if (typeof gpus !== 'object' || gpus === null || !Number.isInteger(gpus.count) || (gpus.count as number) < 1) bad(where, '/gpus/count', 'must be an integer >= 1');
  if (plan.granularity !== 'query-head' && plan.granularity !== 'kv-group') bad(where, '/granularity', 'must be query-head or kv-group');
  if (!Array.isArray(plan.layers) || plan.layers.length === 0) bad(where, '/layers', 'must be a non-empty list');
  plan.layers.forEach((layer: Record<string, unknown>, i: number) => {
    if (typeof layer !== 'object' || layer === null) bad(where, `/layers/${i}`, 'must be an object');
    if (!Number.isInteger(layer.layer)) bad(where, `/layers/${i}/layer`, 'must be an integer');
    if (!isIntList(layer.permutation)) bad(where, `/layers/${i}/permutation`, 'must be a list of integers');
    if (!Array.isArray(layer.gpu2units) || !layer.gpu2units.every(isIntList)) bad(where, `/layers/${i}/gpu2units`, 'must be a list of integer lists');
  });
  return plan as unknown as PlanLike;
}

/**
 * The plan named by `source`: a readable file, else a 32-hex plan id fetched from `serviceUrl`.
 * `fetchImpl` is injected for tests; the global fetch otherwise.
 */
export async function loadPlan(source: string, serviceUrl: string, fetchImpl: typeof fetch = fetch): Promise<PlanLike> {
  if (existsSync(source)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(source, 'utf8'));
    } catch (error) {
      throw new HplbError('INVALID_PROBLEM', `cannot read plan file ${source}: ${error instanceof Error ? error.message : String(error)}`, { pointer: '/plan' });
    }
    return parsePlan(parsed, source);
  }
  if (!PLAN_ID.test(source)) {
    throw new HplbError('INVALID_PROBLEM', `--plan ${source} is neither a file nor a plan id (32 hex digits)`, { pointer: '/plan' });
  }
  const url = new URL(`v1/plans/${source}`, serviceUrl.endsWith('/') ? serviceUrl : `${serviceUrl}/`);
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (error) {
    throw new HplbError('INVALID_PROBLEM', `cannot reach the plan service at ${url.href}: ${error instanceof Error ? error.message : String(error)}`, { pointer: '/plan' });
  }
  if (response.status === 404) throw new HplbError('PLAN_NOT_FOUND', `${url.href}: no stored plan ${source}; POST its request again, or pass the Plan JSON file`);
  if (!response.ok) throw new HplbError('INVALID_PROBLEM', `${url.href} answered ${response.status}`, { pointer: '/plan' });
  const plan = parsePlan(await response.json(), url.href);
  if (plan.id !== source) throw new HplbError('INVALID_PROBLEM', `${url.href} returned plan ${plan.id}, not ${source}`, { pointer: '/plan' });
  return plan;
}
