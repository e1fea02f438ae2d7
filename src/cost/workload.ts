/** The workload a cost is taken at. A leaf module of src/cost. */

/** What the heads are doing: prefill of seqLen tokens, or one decode step at context seqLen. */
export interface Workload {
  readonly seqLen: number;
  readonly phase: 'prefill' | 'decode';
}

/** The long-context regime the paper targets. */
export const DEFAULT_WORKLOAD: Workload = Object.freeze({ seqLen: 131072, phase: 'prefill' });
