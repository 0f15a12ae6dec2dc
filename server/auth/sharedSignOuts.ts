/**
 * Sign-outs every replica hears about. A stateless session cookie is valid wherever the secret
 * is, so signing out on one replica must reach the others for a copied cookie to stop working
 * before it expires. With a Consul source, each sign-out is a KV key
 * `switchboard/sessions/signed-out/<session id>` whose value is the session's expiry (epoch
 * ms); every replica follows the prefix with a blocking query and refuses those sessions
 * (within a moment of the write). Keys past their expiry are deleted by whichever replica sees
 * them first (with `?cas=`, so two replicas doing it at once is harmless). Without a shared
 * registry (Kubernetes only), sign-out holds on the replica that served it and the cookie
 * expires elsewhere (README "Running several replicas").
 */
import { z } from 'zod';
import { BlockingQuery, type FetchResult } from '../../clients/consul/blockingQuery';
import { ConsulHttp, type ConsulError } from '../../clients/consul/consulHttp';

export interface SharedSignOuts {
  /** Where sign-outs are shared, for logs. */
  readonly describe: string;
  /** Tells every replica that session `id` is signed out; it would have expired at `expiresAt` (ms). */
  publish(id: string, expiresAt: number): Promise<void>;
  /** Follows sign-outs made anywhere: `onChange` gets every one known (id → expiresAt), on each change. */
  start(onChange: (signedOut: ReadonlyMap<string, number>) => void): void;
  close(): Promise<void>;
}

export const SIGNED_OUT_PREFIX = 'switchboard/sessions/signed-out/';
const SESSION_ID = /^[A-Za-z0-9_-]{16,128}$/;
const Entries = z.array(z.object({ Key: z.string(), Value: z.string().nullable(), ModifyIndex: z.number() })).nullable();
type Entries = z.infer<typeof Entries>;

export interface ConsulSignOutsOptions {
  /** The Consul source's name (in errors) and address. */
  sourceName: string;
  address: string;
  token: string | null;
  onError?: (message: string) => void;
  now?: () => number;
  fetch?: typeof fetch;
}

/** Sign-outs in the KV of a Consul agent every replica watches (the datacenter it serves). */
export class ConsulSignOuts implements SharedSignOuts {
  readonly describe: string;
  private readonly http: ConsulHttp;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private query: BlockingQuery<Entries, ConsulError> | null = null;

  constructor(private readonly o: ConsulSignOutsOptions) {
    this.fetchFn = o.fetch ?? fetch;
    this.http = new ConsulHttp({ sourceName: o.sourceName, address: o.address, token: o.token, fetch: this.fetchFn, maxBodyBytes: 8 * 2 ** 20 });
    this.now = o.now ?? Date.now;
    this.describe = `Consul KV ${SIGNED_OUT_PREFIX} (source ${o.sourceName})`;
  }

  async publish(id: string, expiresAt: number): Promise<void> {
    if (!SESSION_ID.test(id)) throw new Error(`not a session id: ${id.slice(0, 20)}`);
    const res = await this.fetchFn(this.url(`${SIGNED_OUT_PREFIX}${id}`), { method: 'PUT', body: String(Math.round(expiresAt)), headers: this.headers(), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`PUT /v1/kv/${SIGNED_OUT_PREFIX}…: ${res.status} ${(await res.text()).slice(0, 200)}`);
    await res.body?.cancel().catch(() => undefined);
  }

  start(onChange: (signedOut: ReadonlyMap<string, number>) => void): void {
    if (this.query) return;
    this.query = new BlockingQuery<Entries, ConsulError>({
      fetch: ({ index, waitMs, signal }): Promise<FetchResult<Entries, ConsulError>> =>
        this.http.getIndexed(`/v1/kv/${SIGNED_OUT_PREFIX}`, Entries, { index, waitMs, signal, allowNotFound: true, query: { recurse: '' }, endpoint: `/v1/kv/${SIGNED_OUT_PREFIX}` }),
      onChange: (entries) => {
        const now = this.now();
        const signedOut = new Map<string, number>();
        for (const e of entries ?? []) {
          const id = e.Key.slice(SIGNED_OUT_PREFIX.length);
          const expiresAt = Number(e.Value === null ? NaN : Buffer.from(e.Value, 'base64').toString('utf8'));
          if (!SESSION_ID.test(id) || !Number.isFinite(expiresAt)) continue;
          if (expiresAt > now) signedOut.set(id, expiresAt);
          else void this.forget(e.Key, e.ModifyIndex);
        }
        onChange(signedOut);
      },
      onError: (error) => this.o.onError?.(`shared sign-outs: ${error.message}`),
    });
    this.query.start();
  }

  async close(): Promise<void> {
    await this.query?.stop();
  }

  /** Deletes a sign-out whose session has expired anyway (only if nobody rewrote it meanwhile). */
  private async forget(key: string, modifyIndex: number): Promise<void> {
    try {
      const res = await this.fetchFn(this.url(`${key}?cas=${modifyIndex}`), { method: 'DELETE', headers: this.headers(), signal: AbortSignal.timeout(10_000) });
      await res.body?.cancel().catch(() => undefined);
    } catch {
      // Another replica, or the next change, tries again.
    }
  }

  private url(keyAndQuery: string): string {
    return `${this.o.address}/v1/kv/${keyAndQuery}`;
  }

  private headers(): Record<string, string> {
    return this.o.token ? { 'X-Consul-Token': this.o.token } : {};
  }
}
