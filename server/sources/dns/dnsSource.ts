/**
 * DNS as a source: each configured name is resolved again when its records' TTL runs out,
 * clamped to [minTtl, maxTtl] so a TTL of 0 (Consul's default) does not become a hot loop and
 * a day-long TTL does not freeze the view. Servers are tried in order. A failed resolution
 * keeps the last-known-good instances and marks the source stale; NXDOMAIN means the name has
 * no instances (shown as such, not as an error). DNS cannot express health: instances are
 * `unknown` (the dashboard links them to the same address:port in other sources).
 */
import type { Service } from '../../../protocol/model';
import { serviceId } from '../../../protocol/model';
import type { Logger } from '../../log';
import type { Source, SourceSink } from '../source';
import { parseServer, type DnsServer } from './dnsClient';
import { resolveName, type Resolution } from './dnsResolve';

export const DNS_SCOPE = 'dns';

export interface DnsSourceConfig {
  name: string;
  servers: string[];
  names: string[];
  /** Port for A/AAAA names (SRV names carry their own). */
  defaultPort: number | null;
  minTtlSeconds: number;
  maxTtlSeconds: number;
  /** Per query. @default 2000 */
  timeoutMs?: number;
}

export class DnsSource implements Source {
  readonly kind = 'dns' as const;
  readonly id: string;
  readonly name: string;
  readonly address: string;
  private readonly servers: DnsServer[];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly failing = new Map<string, string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;
  private sink: SourceSink = () => undefined;

  constructor(
    private readonly config: DnsSourceConfig,
    private readonly log?: Logger,
  ) {
    this.id = config.name;
    this.name = config.name;
    this.address = config.servers.join(', ');
    this.servers = config.servers.map(parseServer);
  }

  start(sink: SourceSink): void {
    this.sink = sink;
    void this.track(this.firstSync());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private async firstSync(): Promise<void> {
    const results = await Promise.all(this.config.names.map(async (name) => ({ name, result: await this.resolve(name) })));
    if (this.stopped) return;
    const services = results.flatMap(({ result }) => (result.ok ? [result.service] : []));
    this.sink({ type: 'scope.synced', scope: DNS_SCOPE, services });
    this.sink({ type: 'scopes.changed', scopes: [DNS_SCOPE] });
    this.reportStatus();
    for (const { name, result } of results) this.schedule(name, result.nextInSeconds);
  }

  private async round(name: string): Promise<void> {
    const result = await this.resolve(name);
    if (this.stopped) return;
    if (result.ok) this.sink({ type: 'service.changed', service: result.service });
    this.reportStatus();
    this.schedule(name, result.nextInSeconds);
  }

  private async resolve(name: string): Promise<{ ok: true; service: Service; nextInSeconds: number } | { ok: false; nextInSeconds: number }> {
    let lastError = 'no DNS server configured';
    for (const server of this.servers) {
      try {
        const r = await resolveName(server, name, this.config.defaultPort, this.config.timeoutMs);
        this.failing.delete(name);
        const next = this.clamp(r.ttl);
        return { ok: true, service: this.toService(name, r, server, next), nextInSeconds: next };
      } catch (err) {
        lastError = (err as Error).message;
      }
    }
    this.failing.set(name, lastError);
    this.log?.warn({ name, err: lastError }, 'DNS resolution failed; keeping last-known-good');
    // Retry a failing name at the minimum interval: the outage should end on screen quickly.
    return { ok: false, nextInSeconds: this.config.minTtlSeconds };
  }

  private toService(name: string, r: Resolution, server: DnsServer, effectiveTtl: number): Service {
    return {
      id: serviceId(this.id, DNS_SCOPE, name),
      sourceId: this.id,
      scope: DNS_SCOPE,
      name,
      tags: [],
      instances: r.instances,
      dns: { recordTtl: r.ttl, effectiveTtl, resolvedAt: new Date().toISOString(), server: `${server.host}:${server.port}`, transport: r.transport, note: r.note, rcode: r.rcode },
    };
  }

  private reportStatus(): void {
    if (this.failing.size === 0) this.sink({ type: 'status', state: 'ok', error: null });
    else this.sink({ type: 'status', state: 'down', error: [...this.failing].map(([n, e]) => (e.startsWith(n) ? e : `${n}: ${e}`)).join('; ') });
  }

  private clamp(ttl: number): number {
    return Math.min(this.config.maxTtlSeconds, Math.max(this.config.minTtlSeconds, ttl));
  }

  private schedule(name: string, seconds: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.track(this.round(name));
    }, seconds * 1000);
    this.timers.add(timer);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }
}
