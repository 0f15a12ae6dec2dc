/**
 * Fetch helpers for the JSON API. Every answer is checked against its schema from
 * protocol/ (or, for the first page's requests, its Shape from lib/wireShapes.ts), so a server
 * that drifts shows up as an error here, not as a broken page.
 * A 401 is a typed error the UI turns into a sign-in redirect.
 *
 * This module loads no zod itself (error bodies are checked against lib/wireShapes.ts): the
 * list's first page imports it, and callers there check with a Shape or import their answer's
 * schema when they ask.
 */
import type { z } from 'zod';
import type { FastParser } from './schemaCheck';
import { parseErrorBody } from './wireShapes';

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

/**
 * GET `path` and check the answer against `schema` — or against the schema a promise brings
 * (`import('@/protocol/…').then((m) => m.X)`), imported while the request is under way.
 */
export function getJson<S extends z.ZodType>(path: string, schema: S | Promise<S>): Promise<z.infer<S>>;
/** GET `path` and check the answer with a parser from lib/wireShapes.ts (no zod: the first page's requests). */
export function getJson<T>(path: string, parse: FastParser<T>): Promise<T>;
/** @deprecated Unchecked: pass the answer's schema from protocol/api.ts (kept until every caller does). */
export function getJson<T>(path: string): Promise<T>;
export async function getJson(path: string, schema?: z.ZodType | Promise<z.ZodType> | FastParser<unknown>): Promise<unknown> {
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

async function request<S extends z.ZodType>(path: string, init: RequestInit, schemaOrPromise: S | Promise<S> | FastParser<unknown> | null): Promise<z.infer<S>> {
  // A schema still being imported: a failed import is reported with the answer, never left unhandled.
  const schemaReady = Promise.resolve(schemaOrPromise).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `cannot reach Switchboard: ${(err as Error).message}`);
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = parseErrorBody(json);
    throw new ApiError(res.status, error.success ? error.data.error : `${res.status} ${res.statusText}`, error.success ? (json as Record<string, unknown>) : null);
  }
  const schema = await schemaReady;
  if (schema instanceof Error) throw new ApiError(0, `cannot load the schema to check ${path}: ${schema.message}`);
  if (!schema) return json as z.infer<S>;
  if (typeof schema === 'function') {
    const checked = schema(json);
    if (!checked.success) throw new ApiError(res.status, `unexpected answer from ${path}: not the shape this dashboard expects (is the server a different version?)`);
    return checked.data as z.infer<S>;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ApiError(res.status, `unexpected answer from ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
