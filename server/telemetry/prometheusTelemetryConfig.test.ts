import { describe, expect, it } from 'vitest';
import { fromRaw } from '../config/loadConfig';

const ctx = { file: null, env: {}, cwd: '/' };

describe('config telemetry', () => {
  it('defaults to the built-in store', () => {
    expect(fromRaw({}, ctx).telemetry).toEqual({ store: 'builtin' });
  });

  it('takes a Prometheus store with its defaults', () => {
    expect(fromRaw({ telemetry: { store: 'prometheus', prometheus: { url: 'http://127.0.0.1:9090' } } }, ctx).telemetry).toEqual({
      store: 'prometheus',
      prometheus: { url: 'http://127.0.0.1:9090', scrapeIntervalSeconds: 15, breakerPollMs: 500, timeoutMs: 10_000 },
    });
  });

  it('names the field that is wrong', () => {
    expect(() => fromRaw({ telemetry: { store: 'prometheus', prometheus: { url: 'prometheus:9090' } } }, ctx)).toThrow(/telemetry\.prometheus\.url: must be an http\(s\) URL/);
    expect(() => fromRaw({ telemetry: { store: 'prometheus' } }, ctx)).toThrow(/telemetry\.prometheus/);
    expect(() => fromRaw({ telemetry: { store: 'influx' } }, ctx)).toThrow(/telemetry\.store/);
    expect(() => fromRaw({ telemetry: { store: 'prometheus', prometheus: { url: 'http://p', scrapeIntervalSeconds: 0 } } }, ctx)).toThrow(/telemetry\.prometheus\.scrapeIntervalSeconds/);
    expect(() => fromRaw({ telemetry: { store: 'builtin', prometheus: { url: 'http://p' } } }, ctx)).toThrow(/telemetry/);
  });
});
