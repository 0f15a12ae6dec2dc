import { describe, expect, it } from 'vitest';
import { flipKeys, selectorDecision } from './kubernetesTrafficStore';
import type { TrafficPolicy } from './trafficPolicy';

const policy = (subsets: Record<string, string[]>, full: string): TrafficPolicy => ({
  version: 1,
  subsets: Object.fromEntries(Object.entries(subsets).map(([n, tags]) => [n, { tags }])),
  weights: Object.fromEntries(Object.keys(subsets).map((n) => [n, n === full ? 100 : 0])),
  drain: [], updatedAt: 'now', updatedBy: 'op', reason: '',
});
const colours = (full: string) => policy({ blue: ['color=blue'], green: ['color=green'] }, full);

describe('the Kubernetes selector a policy may patch', () => {
  it('flips only the label keys that tell the subsets apart, recording the base selector the first time', () => {
    expect(flipKeys(colours('blue'))).toEqual(new Set(['color']));
    expect(selectorDecision(colours('blue'), { selector: { app: 'web' }, baseAnnotation: undefined, stored: null })).toEqual({ kind: 'patch', patch: { color: 'blue' }, base: { app: 'web' } });
    // From a selector an earlier policy already flipped: the flipped key is not part of the base.
    expect(selectorDecision(colours('green'), { selector: { app: 'web', color: 'blue' }, baseAnnotation: undefined, stored: colours('blue') })).toEqual({ kind: 'patch', patch: { color: 'green' }, base: { app: 'web' } });
    expect(selectorDecision(colours('green'), { selector: { app: 'web', color: 'blue' }, baseAnnotation: '{"app":"web"}', stored: colours('blue') })).toMatchObject({ kind: 'patch', patch: { color: 'green' } });
    // Labels all subsets share are never patched (they cannot widen or move the selection).
    expect(selectorDecision(policy({ a: ['tier=x', 'color=blue'], b: ['tier=x', 'color=green'] }, 'b'), { selector: { app: 'web' }, baseAnnotation: undefined, stored: null })).toMatchObject({ patch: { color: 'green' } });
  });

  it('changes nothing for a canary split or subsets that are not pod labels', () => {
    expect(selectorDecision({ ...colours('blue'), weights: { blue: 90, green: 10 } }, { selector: { app: 'web' }, baseAnnotation: undefined, stored: null })).toEqual({ kind: 'none' });
    expect(selectorDecision(policy({ blue: ['blue'], green: ['green'] }, 'blue'), { selector: { app: 'web' }, baseAnnotation: undefined, stored: null })).toEqual({ kind: 'none' });
  });

  it('refuses a forced custom subset that would point the Service at other pods', () => {
    const db = policy({ mine: ['app=payment'], theirs: ['app=database'] }, 'theirs');
    const refused = selectorDecision(db, { selector: { app: 'payment', color: 'blue' }, baseAnnotation: '{"app":"payment"}', stored: colours('blue') });
    expect(refused).toMatchObject({ kind: 'refused', why: expect.stringContaining('would change the selector label app, which belongs to the Service\'s base selector (app=payment)') });
    // Without a recorded base the current selector (minus what the stored policy flips) is the base.
    expect(selectorDecision(db, { selector: { app: 'payment', tier: 'web' }, baseAnnotation: undefined, stored: null })).toMatchObject({ kind: 'refused' });
    // Setting a base label to the value it already has is no change, and not a way to launder it:
    // the recorded base still holds it for the next flip.
    const same = policy({ mine: ['app=payment'], theirs: ['app=database'] }, 'mine');
    const first = selectorDecision(same, { selector: { app: 'payment', tier: 'web' }, baseAnnotation: undefined, stored: null });
    expect(first).toEqual({ kind: 'patch', patch: {}, base: { app: 'payment', tier: 'web' } });
    expect(selectorDecision(db, { selector: { app: 'payment', tier: 'web' }, baseAnnotation: JSON.stringify({ app: 'payment', tier: 'web' }), stored: same })).toMatchObject({ kind: 'refused' });
    // A Service without a selector of its own: a flip would pick pods from the whole namespace.
    expect(selectorDecision(colours('green'), { selector: undefined, baseAnnotation: undefined, stored: null })).toMatchObject({ kind: 'refused', why: expect.stringContaining('no base selector') });
    expect(selectorDecision(colours('green'), { selector: { app: 'web' }, baseAnnotation: 'nope', stored: null })).toMatchObject({ kind: 'refused', why: expect.stringContaining('switchboard.dev/base-selector') });
    expect(selectorDecision(colours('green'), { selector: { app: 'other' }, baseAnnotation: '{"app":"web"}', stored: null })).toMatchObject({ kind: 'refused', why: expect.stringContaining('no longer carries its base label app=web') });
  });
});

describe('the base selector', () => {
  it('is the recorded one, else the selector minus what the stored policy flips', async () => {
    const { baseSelector } = await import('./kubernetesTrafficStore');
    expect(baseSelector({ selector: { app: 'web', color: 'blue' }, baseAnnotation: undefined, stored: colours('blue') })).toEqual({ ok: true, base: { app: 'web' } });
    expect(baseSelector({ selector: { app: 'web', color: 'blue' }, baseAnnotation: undefined, stored: null })).toEqual({ ok: true, base: { app: 'web', color: 'blue' } });
    expect(baseSelector({ selector: { app: 'web', color: 'blue' }, baseAnnotation: '{"app":"web"}', stored: null })).toEqual({ ok: true, base: { app: 'web' } });
    // A canary over custom subsets (no selector change) cannot launder a base key for a later flip:
    // the base recorded with it still holds the key.
    const canary = { ...policy({ mine: ['app=payment'], theirs: ['app=database'] }, 'mine'), weights: { mine: 50, theirs: 50 } };
    expect(selectorDecision(canary, { selector: { app: 'payment' }, baseAnnotation: undefined, stored: null })).toEqual({ kind: 'none' });
    const recorded = baseSelector({ selector: { app: 'payment' }, baseAnnotation: undefined, stored: null });
    expect(recorded).toEqual({ ok: true, base: { app: 'payment' } });
    const flip = policy({ mine: ['app=payment'], theirs: ['app=database'] }, 'theirs');
    expect(selectorDecision(flip, { selector: { app: 'payment' }, baseAnnotation: JSON.stringify({ app: 'payment' }), stored: canary })).toMatchObject({ kind: 'refused' });
  });
});
