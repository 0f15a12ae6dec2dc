'use client';
import type { DnsResolution } from '@/protocol/model';
import { timeAgo } from '@/lib/timeAgo';
import { useNow } from '@/lib/useNow';

/** How a DNS name was last resolved: the staleness window DNS caching creates, in plain words. */
export function DnsInfo({ dns }: { dns: DnsResolution }) {
  const now = useNow(1000);
  return (
    <section className="panel" aria-label="DNS resolution" data-testid="dns-info" data-transport={dns.transport}>
      <div className="panel-head">
        <h2>DNS</h2>
        <span className="meta">
          resolved <time dateTime={dns.resolvedAt}>{timeAgo(dns.resolvedAt, now)}</time> from {dns.server} over {dns.transport.toUpperCase()} · {dns.rcode}
        </span>
      </div>
      <p className="meta" style={{ margin: 0 }}>
        Records carry a TTL of <b data-testid="dns-record-ttl">{dns.recordTtl}s</b>; Switchboard asks again every <b data-testid="dns-effective-ttl">{dns.effectiveTtl}s</b>
        {dns.effectiveTtl !== dns.recordTtl ? ' (clamped to the source’s bounds)' : ''}. A client caching these answers can be up to {Math.max(dns.recordTtl, dns.effectiveTtl)}s behind the registry. DNS
        says nothing about health: instances show as unknown unless another source knows the same address and port.
      </p>
      {dns.note && (
        <p className="banner" style={{ margin: '8px 0 0' }} data-testid="dns-note">
          {dns.note}
        </p>
      )}
    </section>
  );
}
