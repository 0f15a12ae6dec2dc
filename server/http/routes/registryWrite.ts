/**
 * What traffic and rollout routes share: both write to a registry with compare-and-set, so
 * both read `If-Match`, report a registry that refuses or fails as 502 (never a 500), and map
 * the same closed set of service errors to HTTP.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../httpError';

export type WriteError =
  | { code: 'not_found' | 'invalid' | 'guardrail' | 'registry'; message: string }
  | { code: 'conflict'; message: string; current: unknown };

export type WriteResult<T, E extends WriteError = WriteError> = { ok: true; value: T } | { ok: false; error: E };

/** `If-Match: <modifyIndex>` → the index a write is conditional on; `what` names whose index. */
export function ifMatch(req: IncomingMessage, what: string): number | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const n = Number(String(h).replace(/"/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError('bad_request', `If-Match: expected the ${what}'s modifyIndex (an integer), got ${h}`);
  return n;
}

/** A registry that refuses or fails (Consul ACL, Kubernetes RBAC, an outage) is reported, not a 500. */
export async function settle<T, E extends WriteError>(work: Promise<WriteResult<T, E>>): Promise<WriteResult<T, E | WriteError>> {
  try {
    return await work;
  } catch (err) {
    return { ok: false, error: { code: 'registry', message: (err as Error).message } };
  }
}

export function unwrap<T>(r: WriteResult<T, WriteError>): T {
  if (r.ok) return r.value;
  const e = r.error;
  switch (e.code) {
    case 'not_found':
      throw new HttpError('not_found', e.message);
    case 'invalid':
      throw new HttpError('bad_request', e.message);
    case 'guardrail':
      throw new HttpError('unprocessable', e.message);
    case 'conflict':
      throw new HttpError('conflict', e.message, { body: { current: e.current } });
    case 'registry':
      throw new HttpError('bad_gateway', `the registry refused: ${e.message}`);
  }
}
