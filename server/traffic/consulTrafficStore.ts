/**
 * Traffic policies in Consul KV (DESIGN.md): `switchboard/traffic/<service>` in the service's
 * datacenter, written with `?cas=<ModifyIndex>` so two operators can never silently overwrite
 * each other, and an audit trail under `switchboard/audit/<service>/<zero-padded ms>`, bounded.
 * Works against real Consul and the embedded registry alike (same KV API).
 */
import { z } from 'zod';
import { auditPrefix, decodePolicy, KvEntries, policyKey, refusedPrefix } from '../../clients/consul/trafficKv';
import { AuditEntry, type StoredPolicy, type TrafficStore, type WriteResult } from './trafficStore';
import type { TrafficPolicy } from './trafficPolicy';

export type { StoredPolicy, WriteResult } from './trafficStore';
export { AuditEntry } from './trafficStore';

export interface ConsulTrafficStoreOptions {
  address: string;
  token: string | null;
  /** Applied changes kept per service. @default 50 */
  historyLimit?: number;
  /** Refused attempts kept per service, apart from the applied ones. @default 50 */
  refusedLimit?: number;
  fetch?: typeof fetch;
}

export class ConsulTrafficStore implements TrafficStore {
  private readonly fetchFn: typeof fetch;
  private readonly limit: number;
  private readonly refusedLimit: number;

  constructor(private readonly options: ConsulTrafficStoreOptions) {
    this.fetchFn = options.fetch ?? fetch;
    this.limit = options.historyLimit ?? 50;
    this.refusedLimit = options.refusedLimit ?? 50;
  }

  async get(dc: string, service: string): Promise<StoredPolicy> {
    const entries = await this.read(dc, policyKey(service), false);
    const e = entries[0];
    if (!e || e.Value === null) return { policy: null, modifyIndex: 0 };
    const decoded = decodePolicy(e.Value);
    if (!decoded.ok) return { policy: null, modifyIndex: e.ModifyIndex, invalid: `${policyKey(service)} in ${dc} is not a valid traffic policy: ${decoded.why}` };
    return { policy: decoded.policy, modifyIndex: e.ModifyIndex };
  }

  /** Compare-and-set against `expected.modifyIndex`; on a lost race returns the current policy. */
  async put(dc: string, service: string, policy: TrafficPolicy, expected: number): Promise<WriteResult> {
    const won = await this.write(dc, `${policyKey(service)}?cas=${expected}`, JSON.stringify(policy));
    if (!won) return { ok: false, current: await this.get(dc, service) };
    return { ok: true, modifyIndex: (await this.get(dc, service)).modifyIndex };
  }

  async audit(dc: string, service: string, entry: Omit<z.input<typeof AuditEntry>, 'id'>): Promise<AuditEntry> {
    const refused = entry.outcome === 'rejected';
    const prefix = refused ? refusedPrefix(service) : auditPrefix(service);
    // Zero-padded milliseconds sort as text; a collision in the same millisecond moves on by one.
    for (let ms = Date.parse(entry.at); ; ms++) {
      const id = String(ms).padStart(15, '0');
      const full = AuditEntry.parse({ id, ...entry });
      if (await this.write(dc, `${prefix}${id}?cas=0`, JSON.stringify(full))) {
        await this.prune(dc, service, refused);
        return full;
      }
    }
  }

  /** Applied changes and refused attempts, newest first (applied first on an id tie). */
  async history(dc: string, service: string): Promise<AuditEntry[]> {
    const [applied, refused] = await Promise.all([this.entries(dc, auditPrefix(service)), this.entries(dc, refusedPrefix(service))]);
    return [...applied, ...refused].map((x) => x.entry).sort((a, b) => (a.id === b.id ? (a.outcome === 'applied' ? -1 : 1) : a.id < b.id ? 1 : -1));
  }

  /** Each kind bounded on its own; refusals an older version kept among the applied ones count as refusals. */
  private async prune(dc: string, service: string, refused: boolean): Promise<void> {
    const all = [...(await this.entries(dc, auditPrefix(service))), ...(refused ? await this.entries(dc, refusedPrefix(service)) : [])];
    const kind = all.filter((x) => (x.entry.outcome === 'rejected') === refused).sort((a, b) => (a.entry.id < b.entry.id ? 1 : -1));
    for (const old of kind.slice(refused ? this.refusedLimit : this.limit)) {
      await this.fetchFn(this.url(dc, old.key), { method: 'DELETE', headers: this.headers() });
    }
  }

  private async entries(dc: string, prefix: string): Promise<{ key: string; entry: AuditEntry }[]> {
    const entries = await this.read(dc, prefix, true);
    return entries.flatMap((e) => {
      const parsed = e.Value ? AuditEntry.safeParse(safeJson(Buffer.from(e.Value, 'base64').toString('utf8'))) : null;
      // Keys come back as stored; re-encode nothing but the characters a URL path would change.
      return parsed?.success ? [{ key: e.Key.split('/').map(encodeURIComponent).join('/'), entry: parsed.data }] : [];
    });
  }

  private async read(dc: string, key: string, recurse: boolean): Promise<NonNullable<KvEntries>> {
    const r = await this.fetchFn(this.url(dc, `${key}${recurse ? '?recurse' : ''}`), { headers: this.headers() });
    if (r.status === 404) return [];
    if (!r.ok) throw new Error(`GET /v1/kv/${key}?dc=${dc}: ${r.status} ${(await r.text()).slice(0, 200)}`);
    return KvEntries.parse(await r.json()) ?? [];
  }

  private async write(dc: string, keyAndQuery: string, body: string): Promise<boolean> {
    const r = await this.fetchFn(this.url(dc, keyAndQuery), { method: 'PUT', body, headers: this.headers() });
    if (!r.ok) throw new Error(`PUT /v1/kv/${keyAndQuery.split('?')[0]}?dc=${dc}: ${r.status} ${(await r.text()).slice(0, 200)}`);
    return (await r.json()) === true;
  }

  private url(dc: string, keyAndQuery: string): string {
    const sep = keyAndQuery.includes('?') ? '&' : '?';
    return `${this.options.address}/v1/kv/${keyAndQuery}${sep}dc=${encodeURIComponent(dc)}`;
  }

  private headers(): Record<string, string> {
    return this.options.token ? { 'X-Consul-Token': this.options.token } : {};
  }
}


function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
