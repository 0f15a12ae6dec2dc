/**
 * List and watch for client-node's `ListWatch` (its informer cache, relist on 410, delete
 * diffing) with what a hostile or broken upstream needs and client-node's own `Watch` and typed
 * list calls lack:
 * - bounded memory: a watch line longer than `maxLineBytes`, or a list page longer than
 *   `maxListBytes`, ends the request with an error instead of buffering without limit;
 * - a malformed watch line, or an `ERROR` event other than 410, is an error (client-node
 *   skips unparsable lines silently, which leaves the cache quietly wrong);
 * - lists are paginated (`limit` + `continue`, as client-go does), read as plain JSON (no typed
 *   model objects) and every object is passed through `compact` before it reaches the cache, so
 *   the cache holds only the fields the caller reads;
 * - watches ask for bookmarks and a server-side timeout, and re-watch after `idleTimeoutMs`
 *   without a byte.
 * Errors carry `code` (HTTP status) and `body` (the apiserver's Status) like client-node's.
 */
import type * as k8s from '@kubernetes/client-node';
import { kubernetesClient } from './kubernetesClient';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { ReadableStream } from 'node:stream/web';
import { fetch } from 'undici';

export interface ListWatchLimits {
  /** Longest watch event accepted (etcd's object limit is 1.5 MiB). @default 16 MiB */
  maxLineBytes: number;
  /** Longest list page accepted. @default 64 MiB */
  maxListBytes: number;
  /** Objects per list page. @default 500 */
  pageSize: number;
  /** A watch silent this long is re-opened from its last resourceVersion. @default 60 s */
  idleTimeoutMs: number;
}

export const DEFAULT_LIMITS: ListWatchLimits = { maxLineBytes: 16 * 2 ** 20, maxListBytes: 64 * 2 ** 20, pageSize: 500, idleTimeoutMs: 60_000 };

export type Compact = (object: KubernetesObject) => KubernetesObject;

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code?: number,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

type WatchCallback = (phase: string, apiObj: KubernetesObject, watchObj?: unknown) => void;
type DoneCallback = (err: unknown) => void;

async function request(kc: k8s.KubeConfig, url: URL, signal: AbortSignal) {
  const ctx = new (kubernetesClient().RequestContext)(url.toString(), kubernetesClient().HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const response = await fetch(url, { method: 'GET', headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher(), signal });
  if (response.status !== 200) {
    const text = await readCapped(response.body, 64 * 1024, url).catch(() => '');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not a Status
    }
    const message = (body as { message?: string })?.message;
    throw new UpstreamError(`HTTP ${response.status} from ${url.pathname}${message ? `: ${message}` : ''}`, response.status, body);
  }
  return response;
}

/**
 * The whole body as text, or an error once it exceeds `max` bytes (the rest is never buffered).
 * Each chunk is decoded as it arrives and the text joined in the JS heap: a list page (megabytes
 * for EndpointSlices) is never copied into one native buffer, which glibc's malloc would keep
 * (its mmap threshold rises to the largest block freed, so later pages come from a heap that
 * fragments and is not given back: ~30–90 MiB of RSS at 150,000 endpoints).
 */
async function readCapped(body: ReadableStream | null, max: number, url: URL): Promise<string> {
  if (!body) return '';
  const decoder = new TextDecoder('utf-8');
  const parts: string[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new UpstreamError(`response from ${url.pathname} exceeds ${formatBytes(max)}; refused`);
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.length === 1 ? parts[0]! : parts.join('');
}

function formatBytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(n % 2 ** 20 ? 1 : 0)} MiB` : `${n} bytes`;
}

/** A paginated list of `path` as plain, compacted objects; the snapshot RV is the first page's. */
export function pagedList(kc: k8s.KubeConfig, path: string, compact: Compact, limits: ListWatchLimits = DEFAULT_LIMITS): () => Promise<KubernetesListObject<KubernetesObject>> {
  return async () => {
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error('No currently active cluster');
    const items: KubernetesObject[] = [];
    let resourceVersion: string | undefined;
    let token: string | undefined;
    const controller = new AbortController();
    do {
      const url = new URL(server + path);
      url.searchParams.set('limit', String(limits.pageSize));
      if (token) url.searchParams.set('continue', token);
      const response = await request(kc, url, controller.signal);
      const text = await readCapped(response.body, limits.maxListBytes, url);
      let page: { metadata?: { resourceVersion?: string; continue?: string }; items?: KubernetesObject[] | null };
      try {
        page = JSON.parse(text);
      } catch (err) {
        throw new UpstreamError(`malformed list response from ${url.pathname}: ${(err as Error).message}`);
      }
      if (!page || typeof page !== 'object' || (page.items != null && !Array.isArray(page.items))) throw new UpstreamError(`malformed list response from ${url.pathname}: not a list`);
      for (const item of page.items ?? []) {
        if (!item?.metadata?.name) throw new UpstreamError(`malformed list response from ${url.pathname}: an item has no metadata.name`);
        items.push(compact(item));
      }
      resourceVersion ??= page.metadata?.resourceVersion;
      token = page.metadata?.continue || undefined;
    } while (token);
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion }, items };
  };
}

/** Drop-in for client-node's `Watch` in `new ListWatch(path, watch, …)`, with bounded lines. */
export class BoundedWatch {
  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly compact: Compact,
    private readonly limits: ListWatchLimits = DEFAULT_LIMITS,
  ) {}

  async watch(path: string, queryParams: Record<string, unknown>, callback: WatchCallback, done: DoneCallback): Promise<AbortController> {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new Error('No currently active cluster');
    const url = new URL(server + path);
    url.searchParams.set('watch', 'true');
    url.searchParams.set('allowWatchBookmarks', 'true');
    // The apiserver closes a watch after timeoutSeconds; spread them like client-go (5–10 min).
    url.searchParams.set('timeoutSeconds', String(300 + Math.floor(Math.random() * 300)));
    for (const [k, v] of Object.entries(queryParams)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const controller = new AbortController();
    let finished = false;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(idle);
      controller.abort();
      done(err);
    };
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        // What client-node does on its inactivity timeout: an immediate re-watch from the last RV.
        const e = new Error('watch idle');
        e.name = 'TimeoutError';
        finish(e);
      }, this.limits.idleTimeoutMs);
      idle.unref();
    };
    try {
      touch();
      const response = await request(this.kc, url, controller.signal);
      touch();
      void this.pump(response.body, url, callback, touch).then(
        () => finish(null),
        (err) => finish(controller.signal.aborted && !finished ? null : err),
      );
    } catch (err) {
      finish(err);
    }
    return controller;
  }

  private async pump(body: ReadableStream | null, url: URL, callback: WatchCallback, touch: () => void): Promise<void> {
    if (!body) return;
    const reader = body.getReader();
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const line = (buf: Buffer) => {
      if (buf.length === 0 || (buf.length === 1 && buf[0] === 13)) return;
      let event: { type?: string; object?: KubernetesObject & { code?: number; message?: string } };
      try {
        event = JSON.parse(buf.toString('utf8'));
      } catch (err) {
        throw new UpstreamError(`malformed watch event from ${url.pathname}: ${(err as Error).message}`);
      }
      const { type, object } = event ?? {};
      if (typeof type !== 'string' || !object || typeof object !== 'object') throw new UpstreamError(`malformed watch event from ${url.pathname}: no type or object`);
      if (type === 'ERROR') {
        if (object.code === 410) return callback(type, object, event);
        throw new UpstreamError(`watch of ${url.pathname} failed: ${object.message ?? 'ERROR event'}`, object.code, object);
      }
      if (type === 'BOOKMARK') return callback(type, object, event);
      if (!object.metadata?.name) throw new UpstreamError(`malformed watch event from ${url.pathname}: ${type} object has no metadata.name`);
      callback(type, this.compact(object), event);
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        touch();
        let chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10)) {
          const head = chunk.subarray(0, nl);
          if (pendingBytes + head.length > this.limits.maxLineBytes) throw this.tooLong(url);
          if (pendingBytes) {
            pending.push(head);
            line(Buffer.concat(pending, pendingBytes + head.length));
            pending = [];
            pendingBytes = 0;
          } else line(head);
          chunk = chunk.subarray(nl + 1);
        }
        if (chunk.length) {
          pendingBytes += chunk.length;
          if (pendingBytes > this.limits.maxLineBytes) throw this.tooLong(url);
          // Copy: the stream may reuse its buffer.
          pending.push(Buffer.from(chunk));
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  private tooLong(url: URL): UpstreamError {
    return new UpstreamError(`watch event from ${url.pathname} exceeds ${formatBytes(this.limits.maxLineBytes)}; stream dropped`);
  }
}

/** An informer over `path` with bounded list/watch and compacted objects in its cache. */
export function makeBoundedInformer(kc: k8s.KubeConfig, path: string, compact: Compact, limits: ListWatchLimits = DEFAULT_LIMITS): k8s.ListWatch<KubernetesObject> {
  return new (kubernetesClient().ListWatch)(path, new BoundedWatch(kc, compact, limits) as unknown as k8s.Watch, pagedList(kc, path, compact, limits), false);
}
