import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { XdsClient, XdsClientsResponse } from '@/protocol/xds';
import { XdsStatusChip, openNacks } from './XdsStatusChip';

const client = (nodeId: string, over: Partial<XdsClient> = {}): XdsClient => ({
  id: nodeId, nodeId, cluster: '', userAgent: 'grpc-node-js', peer: '127.0.0.1', user: 'anonymous', connectedAt: '2026-11-30T09:00:00.000Z',
  subscriptions: [{ type: 'cluster', names: [], wildcard: true, sentVersion: '7', ackedVersion: '6', ackedAt: '2026-11-30T09:00:01.000Z', awaitingAckSince: null }],
  nacks: [], problems: [], ...over,
});
const nack = { at: '2026-11-30T09:00:02.000Z', type: 'cluster' as const, version: '7', nonce: 'n7', code: 3, message: 'unsupported lb_policy: MAGLEV' };

function render(answer: XdsClientsResponse | null): string {
  const qc = new QueryClient();
  qc.setQueryData(['xds', 'clients'], answer);
  return renderToStaticMarkup(createElement(QueryClientProvider, { client: qc }, createElement(XdsStatusChip))).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
}

describe('XdsStatusChip', () => {
  it('a NACK after the last ACK is a warning on the strip, naming the client and the refusal', () => {
    const text = render({ versions: { listener: '1', route: '1', cluster: '7', endpoint: '1' }, clients: [client('order-1', { nacks: [nack] }), client('order-2')] });
    expect(text).toBe('xDS · 2 clients · 1 NACK: order-1 refused cluster 7: unsupported lb_policy: MAGLEV');
  });

  it('a NACK the client has since got past (ACKed later) is not', () => {
    const healed = client('order-1', { nacks: [{ ...nack, at: '2026-11-30T08:59:00.000Z' }] });
    expect(openNacks([healed])).toEqual([]);
    expect(render({ versions: {} as XdsClientsResponse['versions'], clients: [healed] })).toBe('xDS · 1 client');
  });

  it('hidden without an xDS server', () => {
    expect(render(null)).toBe('');
  });
});
