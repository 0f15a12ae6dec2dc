import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ServiceSummary } from '@/protocol/model';
import { ServerMessage } from '@/protocol/realtime';
import { instance, service } from '@/test/fixtures';
import { compileParser } from './schemaCheck';

const summary = (name: string, over: Partial<ServiceSummary> = {}): ServiceSummary => ({
  id: `p/dc1/${name}`, sourceId: 'p', scope: 'dc1', name, tags: ['blue', 'v1'], counts: { passing: 3, warning: 1, critical: 0, unknown: 0 },
  weights: null, drained: 0, breakersOpen: 0, ...over,
});

const snapshot = {
  type: 'snapshot',
  rev: 7,
  sources: [
    { id: 'p', kind: 'consul', name: 'prod', address: 'http://127.0.0.1:8500', state: 'ok', lastSyncAt: '2026-11-30T10:00:00Z', lastError: null, scopes: ['dc1'] },
    { id: 'k', kind: 'kubernetes', name: 'k8s', address: null, state: 'stale', lastSyncAt: null, lastError: 'down', scopes: [], detail: 'EndpointSlices v1' },
  ],
  services: [
    summary('api'),
    summary('web', { weights: { blue: 90, green: 10 }, drained: 1, breakersOpen: 2, rollout: { state: 'Progressing', step: 1, steps: 4 } }),
  ],
};
const delta = { type: 'delta', fromRev: 7, rev: 9, ops: [{ op: 'summary.put', service: summary('db') }, { op: 'summary.delete', serviceId: 'p/dc1/web' }, { op: 'source.delete', sourceId: 'k' }] };

const parse = compileParser(ServerMessage);

/** Every path to a value inside `v` (object keys and array indexes). */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof v !== 'object' || v === null) return [at];
  return [at, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, Array.isArray(v) ? Number(k) : k]))];
}

/** A copy of `v` with the value at `path` replaced (`undefined`: the key removed). */
function mutate(v: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (replacement === undefined && !Array.isArray(parent)) delete parent[last];
  else parent[last] = replacement;
  return copy;
}

describe('compileParser', () => {
  it('accepts valid summary frames and hands back the input itself, without copying', () => {
    for (const frame of [snapshot, delta, { type: 'heartbeat', rev: 3, serverTime: 'now' }]) {
      const r = parse(frame);
      expect(r.success).toBe(true);
      expect(r.success && r.data).toBe(frame);
    }
  });

  it('accepts exactly what zod accepts, whatever is changed or removed anywhere in a frame', () => {
    const frames = [snapshot, delta];
    const target = fc.integer({ min: 0, max: frames.length - 1 }).chain((f) => fc.tuple(fc.constant(f), fc.constantFrom(...paths(frames[f]))));
    const replacement = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined), fc.constantFrom(1.5, -1, 2 ** 60, 'ok', 'Paused', 'snapshot', null, [], {}));
    fc.assert(
      fc.property(target, replacement, ([f, path], value) => {
        const input = mutate(frames[f], path, value);
        expect(parse(input).success).toBe(ServerMessage.safeParse(input).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with zod on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(parse(v).success).toBe(ServerMessage.safeParse(v).success);
      }),
    );
  });

  it('leaves frames it cannot compile to zod, with zod\'s output (defaults filled in)', () => {
    // A service's traffic policy has defaults and refinements: the `service` frame is zod's.
    const web = service('p', 'dc1', 'web', [instance('a')]);
    const policy = { version: 1, subsets: { blue: { tags: ['blue'] } }, weights: { blue: 100 }, updatedAt: 'now', updatedBy: 'alice' };
    const frame = { type: 'service', serviceId: web.id, rev: 4, service: { ...web, traffic: policy } };
    const r = parse(frame);
    expect(r.success).toBe(true);
    expect(r.success && r.data).not.toBe(frame);
    expect(r.success && r.data.type === 'service' && r.data.service?.traffic?.drain).toEqual([]);
    expect(parse({ ...frame, rev: 'x' }).success).toBe(false);
  });

  it('falls back to zod entirely for a schema it does not understand', () => {
    const refined = z.object({ n: z.number() }).refine((o) => o.n > 1);
    const p = compileParser(refined);
    expect(p.compiled).toBe(false);
    expect(p({ n: 2 }).success).toBe(true);
    expect(p({ n: 1 }).success).toBe(false);
    expect(parse.compiled).toBe(true);
  });

  it('rejects unknown keys only in strict objects, and keeps them otherwise', () => {
    const strict = compileParser(z.strictObject({ a: z.string() }));
    const loose = compileParser(z.object({ a: z.string() }));
    expect(strict.compiled && loose.compiled).toBe(true);
    expect(strict({ a: 'x', b: 1 }).success).toBe(false);
    expect(strict({ a: 'x' }).success).toBe(true);
    const kept = loose({ a: 'x', b: 1 });
    expect(kept.success && kept.data).toEqual({ a: 'x', b: 1 });
  });
});
