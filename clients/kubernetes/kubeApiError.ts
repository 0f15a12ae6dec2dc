/**
 * What a failed Kubernetes API call says, from @kubernetes/client-node's ApiException (whose
 * body is the API server's `Status` object, as JSON text or already parsed) or a network error.
 */
export interface KubeFailure {
  /** The HTTP status (403, 404, 409, 422, …), or null when no answer came (network, TLS). */
  code: number | null;
  /** The Status message ("httproutes.gateway.networking.k8s.io \"x\" not found"), else the error's own. */
  message: string;
  /** Status details: set when the API server names the object (a missing object, not a missing resource type). */
  details: { name?: string; kind?: string } | null;
}

export function kubeFailure(err: unknown): KubeFailure {
  const e = err as { code?: unknown; body?: unknown; message?: string } | null;
  let body = e?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: keep the error's own message
    }
  }
  const status = (body && typeof body === 'object' ? body : {}) as { message?: unknown; code?: unknown; details?: unknown };
  const code = typeof status.code === 'number' ? status.code : typeof e?.code === 'number' ? e.code : null;
  const details = status.details && typeof status.details === 'object' ? (status.details as { name?: string; kind?: string }) : null;
  const message = typeof status.message === 'string' ? status.message : (e?.message ?? String(err));
  return { code, message, details };
}

/** "HTTP 403: …" (the form the rest of Switchboard's Kubernetes messages take). */
export function describeKubeFailure(f: KubeFailure): string {
  return f.code !== null ? `HTTP ${f.code}: ${f.message}` : f.message;
}
