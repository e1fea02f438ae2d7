/**
 * Bounds on a plan request, checked on its shape alone, before any per-layer work is built: what
 * a request can make the service allocate, compute and send grows with these numbers, so each is
 * refused (422 PROBLEM_TOO_LARGE naming the bound and the value) rather than attempted.
 */
import { HplbError } from '../errors.ts';

export interface RequestLimits {
  /** Largest units x GPUs x layers. */
  readonly maxProblemSize: number;
  readonly maxLayers: number;
  /** Most units (query heads or KV groups) in one layer. */
  readonly maxUnits: number;
  /** Most layers x units. */
  readonly maxLayerUnits: number;
  /** Most pins, a pin without a layer counted once per layer. */
  readonly maxPins: number;
  /** Largest predicted plan JSON, bytes. */
  readonly maxPlanBytes: number;
  /** Requested time limits are clamped to this, ms. */
  readonly maxTimeLimitMs: number;
  /** The plan's time limit when the request names none, ms. */
  readonly defaultTimeLimitMs: number;
}

/**
 * Defaults with room above every real model (Llama-3.1-405B: 126 layers x 128 heads; a 70B plan
 * on 8 GPUs is about 0.2 MB), and small enough that one request stays cheap to build and send.
 */
export const DEFAULT_LIMITS: RequestLimits = Object.freeze({
  maxProblemSize: 262_144,
  maxLayers: 1024,
  maxUnits: 4096,
  maxLayerUnits: 32_768,
  maxPins: 65_536,
  maxPlanBytes: 2 * 1024 * 1024,
  maxTimeLimitMs: 60_000,
  defaultTimeLimitMs: 10_000,
});

/** The size of a problem, as the bounds see it. */
export interface ProblemShape {
  readonly layers: number;
  readonly units: number;
  readonly gpus: number;
  /** Pins after those without a layer are repeated on every layer. */
  readonly expandedPins: number;
}

/** How a bound is named to the caller: its configuration variable (service) or flag (CLI). */
export type BoundName = (bound: keyof RequestLimits) => string;

const ENV_NAMES: Readonly<Record<keyof RequestLimits, string>> = {
  maxProblemSize: 'MAX_PROBLEM_SIZE',
  maxLayers: 'MAX_LAYERS',
  maxUnits: 'MAX_UNITS',
  maxLayerUnits: 'MAX_LAYER_UNITS',
  maxPins: 'MAX_PINS',
  maxPlanBytes: 'MAX_PLAN_BYTES',
  maxTimeLimitMs: 'MAX_TIME_LIMIT_MS',
  defaultTimeLimitMs: 'DEFAULT_TIME_LIMIT_MS',
};

export const envBoundName: BoundName = (bound) => ENV_NAMES[bound];

type Check = (bound: keyof RequestLimits, value: number, what: string, pointer: string) => void;

function checker(limits: RequestLimits, name: BoundName): Check {
  return (bound, value, what, pointer) => {
    const limit = limits[bound];
    if (value > limit) {
      throw new HplbError('PROBLEM_TOO_LARGE', `${what} = ${value} exceeds ${name(bound)} ${limit}`, {
        pointer,
        rule: bound,
      });
    }
  };
}

/**
 * The bounds that can be read off a raw body before it is validated: a cost matrix's rows and
 * widest row, and the number of pins. Validating a body far above them would itself take long.
 */
export function checkRawBounds(body: unknown, limits: RequestLimits, name: BoundName = envBoundName): void {
  if (typeof body !== 'object' || body === null) return;
  const { costs, constraints } = body as { costs?: unknown; constraints?: { pins?: unknown } };
  const check = checker(limits, name);
  if (Array.isArray(costs)) {
    check('maxLayers', costs.length, 'layers', '/costs');
    let widest = 0;
    for (const row of costs) if (Array.isArray(row)) widest = Math.max(widest, row.length);
    check('maxUnits', widest, 'query heads per layer', '/costs');
    check('maxLayerUnits', costs.length * widest, `layers x query heads = ${costs.length} x ${widest}`, '/costs');
  }
  const pins = typeof constraints === 'object' && constraints !== null ? constraints.pins : undefined;
  if (Array.isArray(pins)) check('maxPins', pins.length, 'pins', '/constraints/pins');
}

/** Throws PROBLEM_TOO_LARGE for the first bound the shape exceeds. */
export function checkProblemBounds(
  shape: ProblemShape,
  limits: RequestLimits,
  sourcePointer: string,
  name: BoundName = envBoundName,
): void {
  const { layers, units, gpus, expandedPins } = shape;
  const check = checker(limits, name);
  check('maxLayers', layers, 'layers', sourcePointer);
  check('maxUnits', units, 'units per layer', sourcePointer);
  check('maxLayerUnits', layers * units, `layers x units = ${layers} x ${units}`, sourcePointer);
  check(
    'maxProblemSize',
    units * gpus * layers,
    `units x GPUs x layers = ${units} x ${gpus} x ${layers}`,
    '/gpus/count',
  );
  check('maxPins', expandedPins, 'pins (a pin without a layer counts once per layer)', '/constraints/pins');
  check('maxPlanBytes', predictPlanBytes(shape), 'the predicted plan size in bytes', sourcePointer);
}

/**
 * An upper estimate of the plan's JSON size, bytes: per layer, three arrays of units (unit2gpu,
 * gpu2units, permutation) of numbers up to max(units, gpus), GPU loads (up to 24 characters each),
 * and about 400 bytes of fixed fields and a fallback reason; per plan, speeds and fixed fields.
 */
export function predictPlanBytes({ layers, units, gpus }: Pick<ProblemShape, 'layers' | 'units' | 'gpus'>): number {
  const index = String(Math.max(units, gpus)).length + 1;
  const perLayer = 3 * units * index + gpus * (24 + 3) + 400;
  return layers * perLayer + gpus * 24 + 1000;
}

/** The request bounds out of a configuration (only they travel to the workers). */
export function requestLimitsOf(config: RequestLimits): RequestLimits {
  const keys = Object.keys(DEFAULT_LIMITS) as (keyof RequestLimits)[];
  return Object.fromEntries(keys.map((key) => [key, config[key]])) as Record<keyof RequestLimits, number>;
}
