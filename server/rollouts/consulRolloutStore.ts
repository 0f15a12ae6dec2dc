/**
 * Rollouts in Consul KV (real Consul and the embedded registry): `switchboard/rollout/<service>`
 * in the service's datacenter, the name encoded as the traffic key encodes it, written with
 * `?cas=<ModifyIndex>`.
 */
import { decodeKeySegment, encodeKeySegment, KvEntries } from '../../clients/consul/trafficKv';
import type { Rollout } from '../../protocol/rollout';
import { decodeRollout, type RolloutStore, type RolloutWrite, type StoredRollout } from './rolloutStore';

export const ROLLOUT_KEY_PREFIX = 'switchboard/rollout/';
export const rolloutKey = (service: string) => `${ROLLOUT_KEY_PREFIX}${encodeKeySegment(service)}`;

export interface ConsulRolloutStoreOptions {
  address: string;
  token: string | null;
  fetch?: typeof fetch;
}

export class ConsulRolloutStore implements RolloutStore {
  private readonly fetchFn: typeof fetch;
  constructor(private readonly options: ConsulRolloutStoreOptions) {
    this.fetchFn = options.fetch ?? fetch;
  }

  async get(dc: string, service: string): Promise<StoredRollout> {
    const e = (await this.read(dc, rolloutKey(service), false))[0];
    if (!e || e.Value === null) return { rollout: null, modifyIndex: e?.ModifyIndex ?? 0 };
    return decodeRollout(Buffer.from(e.Value, 'base64').toString('utf8'), `${rolloutKey(service)} in ${dc}`, e.ModifyIndex);
  }

  async put(dc: string, service: string, rollout: Rollout, expected: number): Promise<RolloutWrite> {
    const key = rolloutKey(service);
    const r = await this.fetchFn(this.url(dc, `${key}?cas=${expected}`), { method: 'PUT', body: JSON.stringify(rollout), headers: this.headers() });
    if (!r.ok) throw new Error(`PUT /v1/kv/${key}?dc=${dc}: ${r.status} ${(await r.text()).slice(0, 200)}`);
    const won = (await r.json()) === true;
    const now = await this.get(dc, service);
    return won ? { ok: true, modifyIndex: now.modifyIndex } : { ok: false, current: now };
  }

  async list(dc: string): Promise<{ service: string; stored: StoredRollout }[]> {
    const entries = await this.read(dc, ROLLOUT_KEY_PREFIX, true);
    return entries.flatMap((e) => {
      const name = decodeKeySegment(e.Key.slice(ROLLOUT_KEY_PREFIX.length));
      if (name === null || e.Value === null) return [];
      return [{ service: name, stored: decodeRollout(Buffer.from(e.Value, 'base64').toString('utf8'), `${e.Key} in ${dc}`, e.ModifyIndex) }];
    });
  }

  private async read(dc: string, key: string, recurse: boolean): Promise<NonNullable<KvEntries>> {
    const r = await this.fetchFn(this.url(dc, `${key}${recurse ? '?recurse' : ''}`), { headers: this.headers() });
    if (r.status === 404) return [];
    if (!r.ok) throw new Error(`GET /v1/kv/${key}?dc=${dc}: ${r.status} ${(await r.text()).slice(0, 200)}`);
    return KvEntries.parse(await r.json()) ?? [];
  }

  private url(dc: string, keyAndQuery: string): string {
    const sep = keyAndQuery.includes('?') ? '&' : '?';
    return `${this.options.address}/v1/kv/${keyAndQuery}${sep}dc=${encodeURIComponent(dc)}`;
  }

  private headers(): Record<string, string> {
    return this.options.token ? { 'X-Consul-Token': this.options.token } : {};
  }
}
