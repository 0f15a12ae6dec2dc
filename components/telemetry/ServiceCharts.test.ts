import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ServiceCharts } from './ServiceCharts';

/** The charts as they first render with `answer` already fetched (no network: the cache is primed). */
function render(answer: unknown): string {
  const client = new QueryClient();
  client.setQueryData(['telemetry', 'prod/dc1/payment'], answer);
  return renderToStaticMarkup(createElement(QueryClientProvider, { client }, createElement(ServiceCharts, { serviceId: 'prod/dc1/payment', instances: [] }))).replace(/<[^>]+>/g, ' ');
}

describe('ServiceCharts', () => {
  it('says the store could not answer instead of "no requests" when Prometheus is down', () => {
    const t = render({ service: [], instances: {}, reporters: [], store: 'prometheus', unavailable: 'GET http://127.0.0.1:9090/api/v1/query_range: connect ECONNREFUSED' });
    expect(t).toContain('Request metrics are unavailable from the Prometheus store: GET http://127.0.0.1:9090/api/v1/query_range: connect ECONNREFUSED');
    expect(t).not.toContain('No requests in the last 15 minutes');
  });

  it('an empty answer from a working store is "no requests"', () => {
    const t = render({ service: [], instances: {}, reporters: [], store: 'builtin' });
    expect(t).toContain('No requests in the last 15 minutes');
    expect(t).not.toContain('unavailable');
  });
});
