/**
 * The API's problem text for the command line: the same code and detail, with the request's
 * fields named by the flags that set them (`--units-per-gpu max:11`, not `unitsPerGpu "max:11"`).
 */
import type { HplbError } from '../errors.ts';

/** Body pointers (and what is under them) to the flag that sets them. */
const POINTER_FLAGS: readonly (readonly [string, string])[] = [
  ['/gpus/count', '--gpus'],
  ['/gpus/speeds', '--speeds'],
  ['/granularity', '--granularity'],
  ['/constraints/unitsPerGpu', '--units-per-gpu'],
  ['/constraints/maxKvGroupsPerGpu', '--max-kv-groups'],
  ['/workload/seqLen', '--seq-len'],
  ['/workload/phase', '--phase'],
  ['/workload', '--seq-len'],
  ['/solver/engine', '--engine'],
  ['/solver/timeLimitMs', '--time-limit-ms'],
  ['/solver/layerTimeLimitMs', '--layer-time-limit-ms'],
  ['/solver/gapTolerance', '--gap'],
  ['/costModel', '--calibration'],
  ['/model', '--model'],
  ['/profile', '--model'],
  ['/costs', '--costs'],
  ['/kvGroupSize', '--costs'],
];

/** Request fields that messages suggest values for, and their flags. */
const FIELD_FLAGS: Readonly<Record<string, string>> = {
  unitsPerGpu: '--units-per-gpu',
  maxKvGroupsPerGpu: '--max-kv-groups',
  gapTolerance: '--gap',
  timeLimitMs: '--time-limit-ms',
};

/** The flag that sets the value at `pointer`, or the pointer itself when no flag does. */
export function flagFor(pointer: string): string {
  const hit = POINTER_FLAGS.find(([prefix]) => pointer === prefix || pointer.startsWith(`${prefix}/`));
  return hit ? hit[1] : pointer;
}

/** `field "a"` and `field "a" or "b"` in a message become `--flag a` and `--flag a or --flag b`. */
export function withFlagNames(message: string): string {
  return message.replace(/\b(\w+) "([^"]*)"(?: or "([^"]*)")?/g, (whole, field: string, a: string, b?: string) => {
    const flag = FIELD_FLAGS[field];
    if (!flag) return whole;
    return b === undefined ? `${flag} ${a}` : `${flag} ${a} or ${flag} ${b}`;
  });
}

/** One line for stderr: `error [CODE] at --flag: detail`. */
export function describeForCli(error: HplbError): string {
  const at = error.pointer ? ` at ${flagFor(error.pointer)}` : '';
  return `error [${error.code}]${at}: ${withFlagNames(error.message)}`;
}
