/**
 * The short text forms of request fields that the GET lookup's query and the CLI's flags share:
 * a KV-cache cap ("1.5" or "unlimited") and a workload mix ("prefill:131072:1,decode:131072:500").
 * Each throws INVALID_PROBLEM naming the field; callers point it at their own parameter.
 */
import { HplbError } from '../errors.ts';
import type { WorkloadPhase } from './workload-request.ts';

/** Most phases in a mix (as openapi.yaml's WorkloadInput.mix maxItems). */
export const MAX_MIX_PHASES = 8;

/** "unlimited" is null (no cap); otherwise a number >= 1. */
export function parseKvFactor(text: string): number | null {
  if (text === 'unlimited') return null;
  const factor = Number(text);
  if (text.trim() === '' || !Number.isFinite(factor) || factor < 1) {
    throw new HplbError(
      'INVALID_PROBLEM',
      `the KV-cache factor cap must be a number >= 1 or "unlimited", got "${text}"`,
      {
        pointer: '/constraints/maxKvCacheFactor',
        rule: 'minimum',
      },
    );
  }
  return factor;
}

/** Comma-separated phase:seqLen:weight, e.g. "prefill:131072:1,decode:131072:500". */
export function parseMix(text: string): WorkloadPhase[] {
  const items = text.split(',');
  if (items.length > MAX_MIX_PHASES) {
    throw new HplbError('INVALID_PROBLEM', `a mix has at most ${MAX_MIX_PHASES} phases, got ${items.length}`, {
      pointer: '/workload/mix',
      rule: 'maxItems',
    });
  }
  return items.map((item, i) => {
    const [phase, seqLen, weight, ...rest] = item.split(':');
    const n = Number(seqLen);
    const w = Number(weight);
    if (
      (phase !== 'prefill' && phase !== 'decode') ||
      rest.length > 0 ||
      !Number.isInteger(n) ||
      n < 1 ||
      !Number.isFinite(w) ||
      !(w > 0)
    ) {
      throw new HplbError(
        'INVALID_PROBLEM',
        `mix phase ${i + 1} ("${item}") must be phase:seqLen:weight with phase prefill or decode, seqLen an integer >= 1 and weight a number > 0`,
        { pointer: `/workload/mix/${i}`, rule: 'pattern' },
      );
    }
    return { phase, seqLen: n, weight: w };
  });
}
