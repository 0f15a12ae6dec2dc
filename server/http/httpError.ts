/**
 * The one error type of the HTTP layer: a closed set of codes, each mapped to its status in
 * one place. Handlers throw it (or return traffic errors that map onto it); the router turns
 * it into `{ "error": "…" }` plus any extra fields. Anything else thrown is an internal error:
 * logged, answered 500 once, and never taken further.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  too_many_requests: 429,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface HttpErrorOptions {
  /** More fields for the body, e.g. `{ current }` on a traffic conflict. */
  body?: Record<string, unknown>;
  /** Response headers, e.g. `retry-after` on 429, `allow` on 405. */
  headers?: Record<string, string>;
}

export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: HttpErrorOptions = {},
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
    this.body = options.body ?? {};
    this.headers = options.headers ?? {};
  }
}

/** Whatever was thrown, as an HttpError; anything unexpected is `internal` with a bland message. */
export function toHttpError(err: unknown): HttpError {
  return err instanceof HttpError ? err : new HttpError('internal', 'internal error');
}
