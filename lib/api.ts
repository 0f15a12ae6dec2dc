/**
 * Fetch helpers for the JSON API. Every answer is checked against its schema from
 * protocol/api.ts, so a server that drifts shows up as an error here, not as a broken page.
 * A 401 is a typed error the UI turns into a sign-in redirect.
 */
import type { z } from 'zod';
import { ErrorBody } from '@/protocol/api';

export { sameOriginPath } from '@/protocol/api';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The whole error body, e.g. `{ error, current }` on a 409. */
    readonly body: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

export function getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>>;
/** @deprecated Unchecked: pass the answer's schema from protocol/api.ts (kept until every caller does). */
export function getJson<T>(path: string): Promise<T>;
export async function getJson(path: string, schema?: z.ZodType): Promise<unknown> {
  return request(path, { headers: { accept: 'application/json' } }, schema ?? null);
}

/**
 * A change (POST/PUT/DELETE) from the browser session: the server also wants the session's
 * CSRF token, which only our own pages can read from GET /api/session.
 */
export async function sendJson<S extends z.ZodType>(
  method: 'POST' | 'PUT' | 'DELETE',
  path: string,
  body: unknown,
  schema: S,
  options: { csrfToken: string | null; ifMatch?: number },
): Promise<z.infer<S>> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  if (options.csrfToken) headers['x-csrf-token'] = options.csrfToken;
  if (options.ifMatch !== undefined) headers['if-match'] = String(options.ifMatch);
  return request(path, { method, headers, body: JSON.stringify(body ?? {}) }, schema);
}

async function request<S extends z.ZodType>(path: string, init: RequestInit, schema: S | null): Promise<z.infer<S>> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `cannot reach Switchboard: ${(err as Error).message}`);
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = ErrorBody.safeParse(json);
    throw new ApiError(res.status, error.success ? error.data.error : `${res.status} ${res.statusText}`, error.success ? (json as Record<string, unknown>) : null);
  }
  if (!schema) return json as z.infer<S>;
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ApiError(res.status, `unexpected answer from ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
