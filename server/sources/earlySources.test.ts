import { describe, expect, it } from 'vitest';
import { HeldSource } from './earlySources';
import type { Source, SourceEvent, SourceSink } from './source';

/** A source that reports whatever the test pushes through it. */
function scriptedSource() {
  let sink: SourceSink | null = null;
  const wanted: string[] = [];
  let stopped = false;
  const source: Source = {
    id: 'c1',
    kind: 'consul',
    name: 'c1',
    address: 'http://127.0.0.1:8500',
    start: (s) => void (sink = s),
    want: (id) => void wanted.push(id),
    stop: async () => void (stopped = true),
  };
  return { source, emit: (e: SourceEvent) => sink!(e), wanted, stopped: () => stopped };
}

const ok: SourceEvent = { type: 'status', state: 'ok' };
const scopes: SourceEvent = { type: 'scopes.changed', scopes: ['dc1'] };

describe('HeldSource (a source started before the server loads)', () => {
  it('starts the source at once and holds what it reports until the server takes it, in order', () => {
    const s = scriptedSource();
    const held = new HeldSource(s.source);
    s.emit(scopes);
    s.emit(ok);
    const got: SourceEvent[] = [];
    held.start((e) => got.push(e));
    expect(got).toEqual([scopes, ok]);
    // Then it forwards, nothing held any more.
    const down: SourceEvent = { type: 'status', state: 'down', error: 'connection refused' };
    s.emit(down);
    expect(got).toEqual([scopes, ok, down]);
  });

  it('a second start does not replay or re-route events', () => {
    const s = scriptedSource();
    const held = new HeldSource(s.source);
    s.emit(ok);
    const first: SourceEvent[] = [];
    const second: SourceEvent[] = [];
    held.start((e) => first.push(e));
    held.start((e) => second.push(e));
    s.emit(scopes);
    expect(first).toEqual([ok, scopes]);
    expect(second).toEqual([]);
  });

  it('keeps the identity of the source and passes want and stop through', async () => {
    const s = scriptedSource();
    const held = new HeldSource(s.source);
    expect([held.id, held.kind, held.name, held.address]).toEqual(['c1', 'consul', 'c1', 'http://127.0.0.1:8500']);
    held.want('c1/dc1/web');
    await held.stop();
    expect(s.wanted).toEqual(['c1/dc1/web']);
    expect(s.stopped()).toBe(true);
  });
});
