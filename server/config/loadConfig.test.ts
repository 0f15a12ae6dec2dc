import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './loadConfig';

function load(config: unknown, env: Record<string, string> = {}) {
  return loadConfig({ argv: ['--config', '/etc/sb.json'], env, cwd: '/work', readFile: () => JSON.stringify(config) });
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const cfg = load({ sources: [{ kind: 'consul', name: 'prod', address: 'http://127.0.0.1:8500/' }] });
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 3000, trustProxy: false });
    expect(cfg.dataDir).toBe('/work/.switchboard');
    expect(cfg.limits).toEqual({ bodyBytes: 65536, sessions: 10000, telemetrySeries: 50000, wsOutboundBytes: 1048576, gatewayClients: 50 });
    expect(cfg.session).toEqual({ secret: null, ttlMs: 12 * 3600_000 });
    expect(cfg.consulSources).toEqual([{ kind: 'consul', name: 'prod', address: 'http://127.0.0.1:8500', token: null, datacenters: 'all' }]);
    expect(cfg.auth).toEqual({ anonymousRole: 'viewer', users: [] });
    expect(cfg.file).toBe('/etc/sb.json');
  });

  it('accepts the whole DESIGN.md contract', () => {
    const cfg = load({
      listen: { host: '127.0.0.1', port: 3000 },
      sources: [
        { kind: 'consul', name: 'prod', address: 'http://127.0.0.1:8500', token: 'env:CONSUL_TOKEN', datacenters: 'all' },
        { kind: 'kubernetes', name: 'k8s', kubeconfig: '~/.kube/config', context: 'prod', namespaces: ['default'] },
        { kind: 'dns', name: 'legacy', servers: ['127.0.0.1:53'], names: ['_payment._tcp.example.internal'] },
      ],
    }, { CONSUL_TOKEN: 's3cret', HOME: '/home/sre' });
    expect(cfg.consulSources.map((s) => s.name)).toEqual(['prod']);
    expect(cfg.kubernetesSources).toEqual([{ name: 'k8s', kubeconfig: '/home/sre/.kube/config', context: 'prod', inCluster: false, namespaces: ['default'] }]);
    expect(cfg.dnsSources.map((s) => s.name)).toEqual(['legacy']);
    expect(errorOf(() => load({ sources: [{ kind: 'kubernetes', name: 'k8s', namespaces: ['Bad_NS'] }] }))).toContain('sources[0].namespaces');
  });

  it('takes DNS sources: servers, names with an optional domain, TTL bounds; and names what is wrong', () => {
    const cfg = load({ sources: [{ kind: 'dns', name: 'legacy', servers: ['127.0.0.1:5353'], names: ['_payment._tcp', 'db.example.internal', 'api.'], domain: 'example.internal', defaultPort: 5432 }] });
    expect(cfg.dnsSources).toEqual([{ name: 'legacy', servers: ['127.0.0.1:5353'], names: ['_payment._tcp.example.internal', 'db.example.internal', 'api'], defaultPort: 5432, minTtlSeconds: 5, maxTtlSeconds: 300 }]);
    expect(errorOf(() => load({ sources: [{ kind: 'dns', name: 'legacy', servers: ['127.0.0.1:53'], names: ['db.example.internal'] }] }))).toContain('sources[0].defaultPort: A/AAAA names (not starting with _) need a defaultPort');
    expect(errorOf(() => load({ sources: [{ kind: 'dns', name: 'legacy', servers: ['nope nope'], names: ['_a._tcp.x'] }] }))).toContain('sources[0].servers[0]: must be host:port');
    expect(errorOf(() => load({ sources: [{ kind: 'dns', name: 'legacy', servers: ['127.0.0.1:53'], names: ['_a._tcp.x'], minTtlSeconds: 60, maxTtlSeconds: 10 }] }))).toContain('sources[0].maxTtlSeconds: must not be below minTtlSeconds');
  });

  it('resolves env: secrets and reports a missing variable by field', () => {
    const cfg = load({ sources: [{ kind: 'consul', name: 'prod', address: 'http://c:8500', token: 'env:CONSUL_TOKEN' }], auth: { anonymousRole: null, users: [{ name: 'alice', role: 'operator', token: 'env:ALICE' }] } }, { CONSUL_TOKEN: 't0k', ALICE: 'a1' });
    expect(cfg.consulSources[0]?.token).toBe('t0k');
    expect(cfg.auth).toEqual({ anonymousRole: null, users: [{ name: 'alice', role: 'operator', token: 'a1' }] });
    expect(errorOf(() => load({ sources: [{ kind: 'consul', name: 'prod', address: 'http://c:8500', token: 'env:NOPE' }] }))).toContain('sources[0].token: environment variable NOPE is not set');
  });

  it.each([
    [{ listen: { port: 70000 } }, 'listen.port'],
    [{ sources: [{ kind: 'consul', name: 'prod', address: 'not a url' }] }, 'sources[0].address'],
    [{ sources: [{ kind: 'consul', name: 'Prod!', address: 'http://c:8500' }] }, 'sources[0].name'],
    [{ sources: [{ kind: 'zookeeper', name: 'z' }] }, 'sources[0].kind'],
    [{ sources: [{ kind: 'consul', name: 'p', address: 'http://c:8500', datacenters: [] }] }, 'sources[0].datacenters'],
    [{ sources: [{ kind: 'consul', name: 'p', address: 'http://c:8500', tokn: 'x' }] }, 'tokn'],
    [{ embedded: { httpPort: 8500 } }, 'embedded.httpPort'],
    [{ auth: { users: [{ name: 'bob', role: 'root', token: 'x' }] } }, 'auth.users[0].role'],
    [{ listn: {} }, 'listn'],
  ])('names the field in %j', (config, field) => {
    expect(errorOf(() => load(config))).toContain(field);
  });

  it('rejects duplicate source names, the reserved "embedded" name, and a demo without the registry', () => {
    const two = { kind: 'consul', name: 'prod', address: 'http://c:8500' };
    expect(errorOf(() => load({ sources: [two, two] }))).toContain('sources[1].name: "prod" is used by another source');
    expect(errorOf(() => load({ embedded: { enabled: true }, sources: [{ ...two, name: 'embedded' }] }))).toContain('sources[0].name: "embedded" is reserved');
    expect(errorOf(() => load({ embedded: { demo: true } }))).toContain('embedded.demo');
    expect(load({ embedded: { enabled: true, allowedHosts: ['switchboard.internal'] } }).embedded.allowedHosts).toEqual(['switchboard.internal']);
    expect(() => load({ embedded: { enabled: true, allowedHosts: ['evil host/'] } })).toThrow(/embedded\.allowedHosts\[0\]: a host name or address/);
    expect(load({ embedded: { enabled: true, httpPort: 0 } }).embedded).toEqual({ enabled: true, demo: false, httpPort: 0, dnsPort: 18600, dnsTtlSeconds: 0, allowedHosts: [] });
  });

  it('lets HOST and PORT override listen, and validates PORT', () => {
    expect(load({}, { HOST: '0.0.0.0', PORT: '4000' }).listen).toEqual({ host: '0.0.0.0', port: 4000, trustProxy: false });
    expect(errorOf(() => load({}, { PORT: 'abc' }))).toContain('PORT');
    expect(load({}, { SWITCHBOARD_DATA_DIR: '/tmp/sb-x' }).dataDir).toBe('/tmp/sb-x');
  });

  it('validates limits, session and trustProxy, naming the field', () => {
    const k = 'k'.repeat(32);
    expect(load({ limits: { sessions: 5 }, listen: { trustProxy: true }, session: { secret: 'env:S' } }, { S: k })).toMatchObject({ limits: { sessions: 5, bodyBytes: 65536 }, listen: { trustProxy: true }, session: { secret: k } });
    // Shorter than 32 bytes: refused whether written in the file or read from the environment.
    expect(errorOf(() => load({ session: { secret: 'env:S' } }, { S: 'k' }))).toContain('session.secret: must be at least 32 bytes (it is 1)');
    expect(errorOf(() => load({ session: { secret: 'short' } }))).toMatch(/session\.secret: must be at least 32 bytes \(it is 5\)/);
    expect(errorOf(() => load({ limits: { bodyBytes: 10 } }))).toContain('limits.bodyBytes');
    expect(errorOf(() => load({ limits: { nope: 1 } }))).toContain('limits');
    expect(errorOf(() => load({ session: { secret: 'env:MISSING' } }))).toContain('session.secret');
  });

  it('reports unreadable files and bad JSON with the path', () => {
    expect(errorOf(() => loadConfig({ argv: ['--config=/x.json'], env: {}, cwd: '/', readFile: () => { throw new Error('ENOENT'); } }))).toContain('cannot read config file /x.json');
    expect(errorOf(() => loadConfig({ argv: [], env: { SWITCHBOARD_CONFIG: '/y.json' }, cwd: '/', readFile: () => '{nope' }))).toContain('/y.json is not valid JSON');
  });

  it('without a config file runs the embedded registry and the demo fleet on their default ports', () => {
    const cfg = loadConfig({ argv: [], env: {}, cwd: '/w' });
    expect(cfg.file).toBeNull();
    expect(cfg.embedded).toEqual({ enabled: true, demo: true, httpPort: 18500, dnsPort: 18600, dnsTtlSeconds: 0, allowedHosts: [] });
    expect(cfg.consulSources).toEqual([]);
  });

  it('without a config file but with CONSUL_HTTP_ADDR watches that agent instead (CONSUL_HTTP_TOKEN too)', () => {
    const cfg = loadConfig({ argv: [], env: { CONSUL_HTTP_ADDR: '127.0.0.1:28500', CONSUL_HTTP_TOKEN: 'tok' }, cwd: '/w' });
    expect(cfg.embedded.enabled).toBe(false);
    expect(cfg.consulSources).toEqual([{ kind: 'consul', name: 'consul', address: 'http://127.0.0.1:28500', token: 'tok', datacenters: 'all' }]);
  });
});
