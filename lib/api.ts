/** Fetch helpers for the JSON API. A 401 is a typed error the UI turns into a sign-in redirect. */
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

export async function getJson<T>(path: string): Promise<T> {
  return request<T>(path, { headers: { accept: 'application/json' } });
}

/**
 * A change (POST/PUT/DELETE) from the browser session: the server also wants the session's
 * CSRF token, which only our own pages can read from GET /api/session.
 */
export async function sendJson<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, options: { csrfToken: string | null; ifMatch?: number }): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  if (options.csrfToken) headers['x-csrf-token'] = options.csrfToken;
  if (options.ifMatch !== undefined) headers['if-match'] = String(options.ifMatch);
  return request<T>(path, { method, headers, body: JSON.stringify(body ?? {}) });
}

async function request<T>(path: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `cannot reach Switchboard: ${(err as Error).message}`);
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as ({ error?: string } & Record<string, unknown>) | null;
    throw new ApiError(res.status, body?.error ?? `${res.status} ${res.statusText}`, body);
  }
  return (await res.json()) as T;
}
