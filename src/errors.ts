/**
 * Every error the service can answer with: a stable code, an HTTP status and a title. Code paths
 * throw HplbError with one of these codes; the HTTP layer turns it into application/problem+json
 * and the CLI prints it to stderr. A test checks that every code is documented in openapi.yaml.
 */
export const ERRORS = {
  VALIDATION_FAILED: { status: 400, title: 'Request does not match the contract' },
  MALFORMED_JSON: { status: 400, title: 'Request body is not valid JSON' },
  MALFORMED_REQUEST: { status: 400, title: 'Request is not valid HTTP' },
  UNAUTHORIZED: { status: 401, title: 'A valid API key is needed' },
  PLAN_NOT_FOUND: { status: 404, title: 'No such plan' },
  UNKNOWN_MODEL: { status: 404, title: 'No such model' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed on this route' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request not received in time' },
  BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Request body must be application/json' },
  INVALID_PROBLEM: { status: 422, title: 'The placement problem is not well formed' },
  UNITS_NOT_DIVISIBLE: { status: 422, title: 'Units cannot be split equally across GPUs' },
  INFEASIBLE_CONSTRAINTS: { status: 422, title: 'No placement satisfies the constraints' },
  PROBLEM_TOO_LARGE: { status: 422, title: 'Problem exceeds a configured limit' },
  PREVIOUS_MISMATCH: { status: 422, title: 'The previous placement does not fit the new problem' },
  INVALID_PROFILE: { status: 422, title: 'The model profile is not valid' },
  INVALID_CURVE: { status: 422, title: 'A recovery curve is not valid' },
  UNKNOWN_CALIBRATION: { status: 404, title: 'No such calibration' },
  INVALID_CHECKPOINT: { status: 422, title: 'The checkpoint is not a supported, well-formed safetensors checkpoint' },
  PLAN_MISMATCH: {
    status: 422,
    title: 'The plan does not fit the model or cannot be expressed by contiguous tensor-parallel sharding',
  },
  RATE_LIMITED: { status: 429, title: 'Too many requests from this client' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  QUEUE_FULL: { status: 503, title: 'Solver queue is full' },
  DRAINING: { status: 503, title: 'Service is shutting down' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** A typed error with a stable code; `pointer` names the offending field (JSON pointer) when known. */
export class HplbError extends Error {
  readonly code: ErrorCode;
  readonly pointer?: string;
  readonly rule?: string;

  constructor(code: ErrorCode, message: string, details: { pointer?: string; rule?: string } = {}) {
    super(message);
    this.name = 'HplbError';
    this.code = code;
    this.pointer = details.pointer;
    this.rule = details.rule;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }
}
