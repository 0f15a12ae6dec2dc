/**
 * A fake Kubernetes API server for the `discovery.k8s.io/v1` path the real test server (1.20)
 * cannot serve. It speaks the wire protocol the adapter depends on, as registry-semantics.md C
 * describes it: lists carrying `metadata.resourceVersion`; watches as chunked newline-delimited
 * `{type, object}` streams from a resourceVersion, with ADDED/MODIFIED/DELETED, BOOKMARK when
 * asked, and an ERROR 410 Status once that version has been compacted away; bearer-token auth
 * (401) and per-token forbidden verbs (403 Status); API group discovery. The same adapter suite
 * runs against this and the real kube-apiserver where their APIs overlap.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string };
  [key: string]: unknown;
}

type Resource = 'services' | 'pods' | 'endpointslices' | 'endpoints';

interface Event {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  object: KubeObject;
}

const KINDS: Record<Resource, { kind: string; apiVersion: string }> = {
  services: { kind: 'Service', apiVersion: 'v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
  endpoints: { kind: 'Endpoints', apiVersion: 'v1' },
};

export interface FakeKubeApiServer {
  url: string;
  token: string;
  put(resource: Resource, object: KubeObject): KubeObject;
  remove(resource: Resource, namespace: string, name: string): void;
  /** Forget history before now: watches from an older resourceVersion get 410. */
  compact(): void;
  /** Cut every open watch (as an apiserver restart or a load balancer would). */
  dropWatches(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Requests seen, e.g. `GET /api/v1/services?watch=true&resourceVersion=7`. */
  requests: string[];
}

export async function startFakeKubeApiServer(options: { token?: string; forbid?: { token: string; verbs: string[] }[]; port?: number; /** 'none': a cluster without the EndpointSlice API (core Endpoints only). @default 'v1' */ sliceApi?: 'v1' | 'none' } = {}): Promise<FakeKubeApiServer> {
  const token = options.token ?? 'fake-token';
  const store = new Map<string, KubeObject>(); // `${resource}/${ns}/${name}`
  const events: Event[] = [];
  let rv = 1;
  let compactedBelow = 0;
  const watchers = new Set<{ resource: Resource; namespace: string | null; res: ServerResponse; bookmarks: boolean }>();
  const requests: string[] = [];

  const emit = (e: Event) => {
    events.push(e);
    for (const w of watchers) {
      if (w.resource !== e.resource || (w.namespace && w.namespace !== e.object.metadata.namespace)) continue;
      w.res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
  };

  const put = (resource: Resource, object: KubeObject): KubeObject => {
    const key = `${resource}/${object.metadata.namespace}/${object.metadata.name}`;
    const existed = store.has(key);
    rv++;
    const stored: KubeObject = { ...KINDS[resource], ...object, metadata: { uid: `${key}`, ...object.metadata, resourceVersion: String(rv) } };
    store.set(key, stored);
    emit({ rv, type: existed ? 'MODIFIED' : 'ADDED', resource, object: stored });
    return stored;
  };

  const status = (res: ServerResponse, code: number, reason: string, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  };

  const route = (path: string): { resource: Resource; namespace: string | null; name: string | null } | null => {
    const m =
      /^\/api\/v1(?:\/namespaces\/([^/]+))?\/(services|pods|endpoints)(?:\/([^/]+))?$/.exec(path) ??
      /^\/apis\/discovery\.k8s\.io\/v1(?:\/namespaces\/([^/]+))?\/(endpointslices)(?:\/([^/]+))?$/.exec(path);
    return m ? { namespace: m[1] ?? null, resource: m[2] as Resource, name: m[3] ?? null } : null;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== `Bearer ${token}` && !options.forbid?.some((f) => req.headers.authorization === `Bearer ${f.token}`)) {
      return status(res, 401, 'Unauthorized', 'Unauthorized');
    }
    const forbidden = options.forbid?.find((f) => req.headers.authorization === `Bearer ${f.token}`);
    if (url.pathname === '/apis') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const groups = options.sliceApi === 'none' ? [] : [{ name: 'discovery.k8s.io', versions: [{ groupVersion: 'discovery.k8s.io/v1', version: 'v1' }], preferredVersion: { groupVersion: 'discovery.k8s.io/v1', version: 'v1' } }];
      return res.end(JSON.stringify({ kind: 'APIGroupList', apiVersion: 'v1', groups }));
    }
    if (url.pathname === '/apis/discovery.k8s.io') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ kind: 'APIGroup', apiVersion: 'v1', name: 'discovery.k8s.io', versions: [{ groupVersion: 'discovery.k8s.io/v1', version: 'v1' }], preferredVersion: { groupVersion: 'discovery.k8s.io/v1', version: 'v1' } }));
    }
    const r = route(url.pathname);
    if (!r) return status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb = req.method === 'PATCH' ? 'patch' : watch ? 'watch' : r.name ? 'get' : 'list';
    if (forbidden?.verbs.includes(verb)) return status(res, 403, 'Forbidden', `${r.resource} is forbidden: User "limited" cannot ${verb} resource "${r.resource}" in API group "" in the namespace "${r.namespace}"`);
    const selector = url.searchParams.get('labelSelector');
    const matches = (o: KubeObject) => (!r.namespace || o.metadata.namespace === r.namespace) && (!selector || selector.split(',').every((kv) => { const [k, v] = kv.split('='); return o.metadata.labels?.[k!] === v; }));

    if (req.method === 'PATCH') {
      const key = `${r.resource}/${r.namespace}/${r.name}`;
      const current = store.get(key);
      if (!current) return status(res, 404, 'NotFound', `${r.resource} "${r.name}" not found`);
      const type = req.headers['content-type'] ?? '';
      if (!type.includes('merge-patch+json') && !type.includes('strategic-merge-patch+json')) return status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json`);
      let body = '';
      for await (const chunk of req) body += chunk;
      const patch = JSON.parse(body) as KubeObject;
      const precondition = patch.metadata?.resourceVersion;
      if (precondition !== undefined && precondition !== current.metadata.resourceVersion) {
        return status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${r.resource} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      const merged = mergePatch(current, patch) as KubeObject;
      const saved = put(r.resource, merged);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(saved));
    }

    if (!watch) {
      if (r.name) {
        const o = store.get(`${r.resource}/${r.namespace}/${r.name}`);
        if (!o) return status(res, 404, 'NotFound', `${r.resource} "${r.name}" not found`);
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(o));
      }
      const items = [...store.entries()].filter(([k]) => k.startsWith(`${r.resource}/`)).map(([, o]) => o).filter(matches);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ kind: `${KINDS[r.resource].kind}List`, apiVersion: KINDS[r.resource].apiVersion, metadata: { resourceVersion: String(rv) }, items }));
    }

    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // A real apiserver answers the watch at once; headers must not wait for the first event.
    res.flushHeaders();
    if (from !== 0 && from < compactedBelow) {
      // What a real apiserver does: 200, one ERROR event carrying a 410 Status, end of stream.
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${compactedBelow})`, reason: 'Expired', code: 410 } })}\n`);
      return;
    }
    const watcher = { resource: r.resource, namespace: r.namespace, res, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
    if (from === 0) {
      for (const [k, o] of store) if (k.startsWith(`${r.resource}/`) && matches(o)) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    } else {
      for (const e of events) if (e.rv > from && e.resource === r.resource && matches(e.object)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
    if (watcher.bookmarks) res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: KINDS[r.resource].kind, apiVersion: KINDS[r.resource].apiVersion, metadata: { resourceVersion: String(rv) } } })}\n`);
    watchers.add(watcher);
    req.on('close', () => watchers.delete(watcher));
  };

  let server: Server | null = null;
  let port = options.port ?? 0;
  const start = async () => {
    server = createServer((req, res) => void handle(req, res).catch((err) => status(res, 500, 'InternalError', String(err))));
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };
  await start();

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    put,
    remove(resource, namespace, name) {
      const key = `${resource}/${namespace}/${name}`;
      const o = store.get(key);
      if (!o) return;
      store.delete(key);
      rv++;
      emit({ rv, type: 'DELETED', resource, object: { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } } });
    },
    compact() {
      compactedBelow = rv;
      events.length = 0;
    },
    dropWatches() {
      for (const w of watchers) w.res.destroy();
      watchers.clear();
    },
    start,
    async stop() {
      for (const w of watchers) w.res.destroy();
      watchers.clear();
      const s = server;
      server = null;
      if (s) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}

/** RFC 7386 JSON merge patch (strategic merge behaves the same on the maps a flip touches). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
