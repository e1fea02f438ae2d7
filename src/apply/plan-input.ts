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

function planSource(message: string): HplbError {
  return new HplbError('INVALID_PROBLEM', message, { pointer: '/plan' });
}

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const isIntList = (value: unknown): boolean => Array.isArray(value) && value.every((x) => Number.isInteger(x));
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Checks that `value` has the Plan fields the rewrite needs. `where` names the source in errors. */
export function parsePlan(value: unknown, where: string): PlanLike {
  if (!isObject(value) || Array.isArray(value)) bad(where, '/', 'must be a Plan object');
  const { id, model, gpus, granularity, layers } = value;
  if (typeof id !== 'string') bad(where, '/id', 'must be a string');
  if (!isObject(model) || (model.id !== null && typeof model.id !== 'string')) {
    bad(where, '/model/id', 'must be a string or null');
  }
  if (!isObject(gpus) || !Number.isInteger(gpus.count) || (gpus.count as number) < 1) {
    bad(where, '/gpus/count', 'must be an integer >= 1');
  }
  if (granularity !== 'query-head' && granularity !== 'kv-group') {
    bad(where, '/granularity', 'must be query-head or kv-group');
  }
  if (!Array.isArray(layers) || layers.length === 0) bad(where, '/layers', 'must be a non-empty list');
  layers.forEach((layer: unknown, i: number) => {
    if (!isObject(layer)) bad(where, `/layers/${i}`, 'must be an object');
    if (!Number.isInteger(layer.layer)) bad(where, `/layers/${i}/layer`, 'must be an integer');
    if (!isIntList(layer.permutation)) bad(where, `/layers/${i}/permutation`, 'must be a list of integers');
    if (!Array.isArray(layer.gpu2units) || !layer.gpu2units.every(isIntList)) {
      bad(where, `/layers/${i}/gpu2units`, 'must be a list of integer lists');
    }
    // A checkpoint's head order gives each head one rank; a head split by query rows needs two.
    if (Array.isArray(layer.parts) && layer.parts.length > 0) {
      const rule = 'splits heads by query rows, which a head order cannot express: plan without constraints.splits';
      bad(where, `/layers/${i}/parts`, rule);
    }
  });
  return value as unknown as PlanLike;
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
      throw planSource(`cannot read plan file ${source}: ${reason(error)}`);
    }
    return parsePlan(parsed, source);
  }
  if (!PLAN_ID.test(source)) throw planSource(`--plan ${source} is neither a file nor a plan id (32 hex digits)`);
  const { body, href } = await fetchStoredPlan(source, serviceUrl, fetchImpl, planSource);
  const plan = parsePlan(body, href);
  if (plan.id !== source) throw planSource(`${href} returned plan ${plan.id}, not ${source}`);
  return plan;
}

/** True for a plan id as the service makes them (32 hex digits). */
export function isPlanId(source: string): boolean {
  return PLAN_ID.test(source);
}

/**
 * The JSON body of GET /v1/plans/{id} on `serviceUrl`. `problem` builds the error for an
 * unreachable service or an unexpected status, so each caller names its own flag.
 */
export async function fetchStoredPlan(
  id: string,
  serviceUrl: string,
  fetchImpl: typeof fetch,
  problem: (message: string) => HplbError,
): Promise<{ body: unknown; href: string }> {
  const url = new URL(`v1/plans/${id}`, serviceUrl.endsWith('/') ? serviceUrl : `${serviceUrl}/`);
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (error) {
    throw problem(`cannot reach the plan service at ${url.href}: ${reason(error)}`);
  }
  if (response.status === 404) {
    const message = `${url.href}: no stored plan ${id}; POST its request again, or pass the Plan JSON file`;
    throw new HplbError('PLAN_NOT_FOUND', message);
  }
  if (!response.ok) throw problem(`${url.href} answered ${response.status}`);
  return { body: await response.json(), href: url.href };
}
