/**
 * The Consul sources the server starts before its modules load, against a real Consul 1.8.7:
 * what they read meanwhile reaches the store once the server takes them, and the watch
 * latencies they observed before the metrics existed are on /metrics afterwards.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';
import { fromRaw } from '../../server/config/loadConfig';
import { createLogger } from '../../server/log';
import { createMetrics } from '../../server/metrics';
import { startConsulSourcesEarly } from '../../server/sources/earlySources';
import type { SourceEvent } from '../../server/sources/source';

/** Every service name the events so far have carried. */
const names = (events: SourceEvent[]) =>
  new Set(events.flatMap((e) => (e.type === 'scope.synced' || e.type === 'services.changed' ? e.services.map((s) => s.name) : e.type === 'service.changed' ? [e.service.name] : [])));
import { TopologyStore } from '../../server/topology/topologyStore';

describe('Consul sources started early', () => {
  let agent: ConsulAgent;

  beforeAll(async () => {
    agent = await startConsulAgent();
    await agent.registerService({ ID: 'web-1', Name: 'web', Port: 8080, Check: { CheckID: 'web-1-ttl', TTL: '10m', Status: 'passing' } });
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
  });

  it('hold what they read until the server takes them, and hand over the latencies observed before the metrics existed', async () => {
    const config = fromRaw({ embedded: { enabled: false }, sources: [{ kind: 'consul', name: 'prod', address: agent.httpAddr }] }, { file: null, env: {}, cwd: process.cwd() });
    const early = startConsulSourcesEarly(config, createLogger({ level: 'silent' }));
    const source = early.consul.get('prod')!;
    expect(source.id).toBe('prod');
    await early.sent();
    // The reads complete while nothing listens: held, not lost.
    await new Promise((r) => setTimeout(r, 1000));

    const metrics = createMetrics(new TopologyStore());
    early.bindMetrics(metrics);
    const observed = async () => (await metrics.registry.getSingleMetric('switchboard_watch_request_duration_seconds')!.get()).values.filter((v) => v.labels.source === 'prod' && String((v as { metricName?: string }).metricName).endsWith('_count'));
    const before = (await observed()).reduce((n, v) => n + v.value, 0);
    expect(before).toBeGreaterThan(0);

    const events: SourceEvent[] = [];
    source.start((e) => events.push(e));
    await vi.waitFor(() => expect(names(events).has('web')).toBe(true), { timeout: 15_000, interval: 50 });

    // Later latencies go straight to the histogram.
    await agent.registerService({ ID: 'api-1', Name: 'api', Port: 8081 });
    await vi.waitFor(() => expect(names(events).has('api')).toBe(true), { timeout: 15_000, interval: 50 });
    const after = (await observed()).reduce((n, v) => n + v.value, 0);
    expect(after).toBeGreaterThan(before);
    await source.stop();
  }, 60_000);
});
