import { createHash } from 'node:crypto';
import type { Architecture, HeadBudget } from './profile.ts';

/**
 * JSON text with object keys sorted at every depth and no whitespace, so that equal values
 * always give equal text whatever order their keys were written in.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    // The same text, written natively: placements and cost rows are long arrays of numbers.
    if (value.every((v) => typeof v === 'number')) return JSON.stringify(value);
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A profile's content version: the first 12 hex digits of sha256 over the canonical JSON of
 * `{architecture, budgets}` (budgets: [layers][queryHeads]). Ids, names, provenance and source
 * scores are left out on purpose: the version must change only when the numbers a plan is
 * computed from change.
 */
export function profileVersion(architecture: Architecture, budgets: readonly (readonly HeadBudget[])[]): string {
  return createHash('sha256').update(canonicalJson({ architecture, budgets })).digest('hex').slice(0, 12);
}
