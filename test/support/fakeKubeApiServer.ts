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

/** A stored object and its JSON, serialized once per write (lists and watches reuse it). */
interface Entry {
  object: KubeObject;
  json: string;
}

interface Event {
  rv: number;
  resource: Resource;
  namespace: string;
  object: KubeObject;
  /** The watch line, newline included. */
  line: string;
}

interface Watcher {
  resource: Resource;
  namespace: string | null;
  selector: ((o: KubeObject) => boolean) | null;
  res: ServerResponse;
  bookmarks: boolean;
}

const KINDS: Record<Resource, { kind: string; apiVersion: string }> = {
  services: { kind: 'Service', apiVersion: 'v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
  endpoints: { kind: 'Endpoints', apiVersion: 'v1' },
};

export interface FakeKubeApiServerOptions {
  token?: string;
  forbid?: { token: string; verbs: string[] }[];
  port?: number;
  /** 'none': a cluster without the EndpointSlice API (core Endpoints only). @default 'v1' */
  sliceApi?: 'v1' | 'none';
  /** Watch events kept for resuming; older resourceVersions get 410 (a real apiserver keeps ~5 min). @default 10000 */
  historySize?: number;
  /** Period of BOOKMARK events to watches that asked for them. @default 5000 */
  bookmarkIntervalMs?: number;
}

export interface FakeKubeApiServer {
  url: string;
  token: string;
  put(resource: Resource, object: KubeObject): KubeObject;
  remove(resource: Resource, namespace: string, name: string): void;
  /** Forget history before now: watches from an older resourceVersion get 410. */
  compact(): void;
  /** Cut every open watch (as an apiserver restart or a load balancer would). */
  dropWatches(): void;
  /** Hostile upstream: writes `text` as-is (no newline added) to every open watch of `resource`. */
  injectWatchLine(resource: Resource, text: string | Buffer): void;
  /** Hostile upstream: every list of `resource` answers 200 with `body` instead (null: back to normal). */
  sabotageList(resource: Resource, body: string | Buffer | null): void;
  /** Slow upstream: lists of `resource` (first pages included) wait until the returned function is called. */
  holdLists(resource: Resource): () => void;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Recent requests (the last 1,000), e.g. `GET /api/v1/services?watch=true&resourceVersion=7`. */
  requests: string[];
  /** Open watch streams. */
  watchCount(): number;
}

export async function startFakeKubeApiServer(options: FakeKubeApiServerOptions = {}): Promise<FakeKubeApiServer> {
  const token = options.token ?? 'fake-token';
  const historySize = options.historySize ?? 10_000;
  // resource → namespace → name → entry: a namespaced list or watch touches only its namespace.
  const store = new Map<Resource, Map<string, Map<string, Entry>>>();
  // Bounded: the oldest half is dropped at 2× historySize (amortized O(1) per write).
  let events: Event[] = [];
  let rv = 1;
  let compactedBelow = 0;
  const watchers = new Set<Watcher>();
  const requests: string[] = [];
  const sabotage = new Map<Resource, string | Buffer>();
  /** Lists held back by holdLists(), per resource. */
  const holds = new Map<Resource, Promise<void>>();
  /** Paginated lists in progress: a consistent snapshot per continue token, as a real apiserver serves. */
  const continuations = new Map<string, { entries: Entry[]; offset: number; rv: number; expires: number }>();
  let nextToken = 1;

  const bucket = (resource: Resource, namespace: string) => {
    let byNs = store.get(resource);
    if (!byNs) store.set(resource, (byNs = new Map()));
    let byName = byNs.get(namespace);
    if (!byName) byNs.set(namespace, (byName = new Map()));
    return byName;
  };

  const emit = (resource: Resource, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject, json: string) => {
    const namespace = object.metadata.namespace ?? '';
    const event: Event = { rv, resource, namespace, object, line: `{"type":"${type}","object":${json}}\n` };
    events.push(event);
    if (events.length >= 2 * historySize) {
      events = events.slice(events.length - historySize);
      compactedBelow = events[0]!.rv - 1;
    }
    for (const w of watchers) {
      if (w.resource !== resource || (w.namespace && w.namespace !== namespace) || (w.selector && !w.selector(object))) continue;
      w.res.write(event.line);
    }
  };

  const put = (resource: Resource, object: KubeObject): KubeObject => {
    const namespace = object.metadata.namespace ?? '';
    const names = bucket(resource, namespace);
    const existed = names.has(object.metadata.name);
    rv++;
    const stored: KubeObject = { ...KINDS[resource], ...object, metadata: { uid: `${resource}/${namespace}/${object.metadata.name}`, ...object.metadata, resourceVersion: String(rv) } };
    const json = JSON.stringify(stored);
    names.set(object.metadata.name, { object: stored, json });
    emit(resource, existed ? 'MODIFIED' : 'ADDED', stored, json);
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

  /** Every entry of `resource` in `namespace` (or all), filtered. */
  const select = (resource: Resource, namespace: string | null, selector: ((o: KubeObject) => boolean) | null): Entry[] => {
    const byNs = store.get(resource);
    if (!byNs) return [];
    const buckets = namespace === null ? [...byNs.values()] : [byNs.get(namespace) ?? new Map<string, Entry>()];
    const out: Entry[] = [];
    for (const names of buckets) for (const e of names.values()) if (!selector || selector(e.object)) out.push(e);
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (requests.length > 2000) requests.splice(0, requests.length - 1000);
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
    const labelSelector = url.searchParams.get('labelSelector');
    const selector = labelSelector
      ? (o: KubeObject) =>
          labelSelector.split(',').every((kv) => {
            const [k, v] = kv.split('=');
            return o.metadata.labels?.[k!] === v;
          })
      : null;

    if (req.method === 'PATCH') {
      const current = store.get(r.resource)?.get(r.namespace ?? '')?.get(r.name ?? '')?.object;
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
        const e = store.get(r.resource)?.get(r.namespace ?? '')?.get(r.name);
        if (!e) return status(res, 404, 'NotFound', `${r.resource} "${r.name}" not found`);
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(e.json);
      }
      await holds.get(r.resource);
      const sabotaged = sabotage.get(r.resource);
      if (sabotaged !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(sabotaged);
      }
      const now = Date.now();
      for (const [t, c] of continuations) if (c.expires < now) continuations.delete(t);
      const token = url.searchParams.get('continue');
      let page: { entries: Entry[]; offset: number; rv: number; expires: number };
      if (token) {
        const found = continuations.get(token);
        if (!found) return status(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
        continuations.delete(token);
        page = found;
      } else page = { entries: select(r.resource, r.namespace, selector), offset: 0, rv, expires: now + 60_000 };
      const limit = Number(url.searchParams.get('limit') ?? '0');
      const end = limit > 0 ? Math.min(page.entries.length, page.offset + limit) : page.entries.length;
      const items = page.entries.slice(page.offset, end);
      let next = '';
      if (end < page.entries.length) {
        next = String(nextToken++);
        continuations.set(next, { ...page, offset: end });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      const metadata = JSON.stringify({ resourceVersion: String(page.rv), ...(next ? { continue: next } : {}) });
      res.write(`{"kind":"${KINDS[r.resource].kind}List","apiVersion":"${KINDS[r.resource].apiVersion}","metadata":${metadata},"items":[`);
      // Written in chunks so a big list never becomes one giant string.
      for (let i = 0; i < items.length; i += 200) res.write((i ? ',' : '') + items.slice(i, i + 200).map((e) => e.json).join(','));
      return res.end(']}');
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
    const watcher: Watcher = { resource: r.resource, namespace: r.namespace, selector, res, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
    if (from === 0) {
      for (const e of select(r.resource, r.namespace, selector)) res.write(`{"type":"ADDED","object":${e.json}}\n`);
    } else {
      // Events are in rv order: binary-search the first one after `from`.
      let lo = 0;
      let hi = events.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (events[mid]!.rv <= from) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < events.length; i++) {
        const e = events[i]!;
        if (e.resource === r.resource && (!r.namespace || e.namespace === r.namespace) && (!selector || selector(e.object))) res.write(e.line);
      }
    }
    if (watcher.bookmarks) res.write(bookmark(r.resource));
    watchers.add(watcher);
    req.on('close', () => watchers.delete(watcher));
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeout > 0) {
      const t = setTimeout(() => res.end(), timeout * 1000);
      t.unref();
      req.on('close', () => clearTimeout(t));
    }
  };

  const bookmark = (resource: Resource) => `${JSON.stringify({ type: 'BOOKMARK', object: { kind: KINDS[resource].kind, apiVersion: KINDS[resource].apiVersion, metadata: { resourceVersion: String(rv) } } })}\n`;
  const bookmarks = setInterval(() => {
    for (const w of watchers) if (w.bookmarks) w.res.write(bookmark(w.resource));
  }, options.bookmarkIntervalMs ?? 5000);
  bookmarks.unref();

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
      const names = store.get(resource)?.get(namespace);
      const e = names?.get(name);
      if (!names || !e) return;
      names.delete(name);
      rv++;
      const object = { ...e.object, metadata: { ...e.object.metadata, resourceVersion: String(rv) } };
      emit(resource, 'DELETED', object, JSON.stringify(object));
    },
    compact() {
      compactedBelow = rv;
      events = [];
    },
    dropWatches() {
      for (const w of watchers) w.res.destroy();
      watchers.clear();
    },
    injectWatchLine(resource, text) {
      for (const w of watchers) if (w.resource === resource) w.res.write(text);
    },
    holdLists(resource) {
      let release!: () => void;
      holds.set(resource, new Promise<void>((resolve) => (release = resolve)));
      return () => {
        holds.delete(resource);
        release();
      };
    },
    sabotageList(resource, body) {
      if (body === null) sabotage.delete(resource);
      else sabotage.set(resource, body);
    },
    watchCount: () => watchers.size,
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
