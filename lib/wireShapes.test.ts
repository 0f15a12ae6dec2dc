import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorBody, SessionResponse } from '@/protocol/api';
import { ObservedCalls } from '@/protocol/graph';
import { ServerMessage } from '@/protocol/realtime';
import { describeSchema, type Shape } from './schemaCheck';
import { ERROR_BODY, OBSERVED_CALLS, parseErrorBody, parseObservedCalls, parseSessionResponse, parseSummaryFrame, SESSION_RESPONSE, SUMMARY_FRAMES } from './wireShapes';

const option = (type: string) => ServerMessage.options.find((o) => o.shape.type.value === type)!;

describe('wire shapes written out for the first page', () => {
  // If one of these fails, protocol/ changed: update lib/wireShapes.ts to match it.
  it.each(Object.keys(SUMMARY_FRAMES))('describe exactly what protocol/realtime.ts accepts as a %s frame', (type) => {
    expect(SUMMARY_FRAMES[type as keyof typeof SUMMARY_FRAMES]).toEqual(describeSchema(option(type)) as Shape);
  });

  it('describe exactly what protocol/api.ts accepts as an error body', () => {
    expect(ERROR_BODY).toEqual(describeSchema(ErrorBody));
    expect(parseErrorBody({ error: 'no such service', current: 1 }).success).toBe(true);
    expect(parseErrorBody({ message: 'x' }).success).toBe(false);
  });

  it.each([
    ['SessionResponse', SESSION_RESPONSE, SessionResponse, parseSessionResponse, { user: { name: 'pat', role: 'operator' }, anonymousRole: null, csrfToken: 'c', passwordSignIn: true }],
    ['ObservedCalls', OBSERVED_CALLS, ObservedCalls, parseObservedCalls, { window: '15m', observed: false }],
  ] as const)('describe exactly what protocol/ accepts as %s, and take what it takes', (_name, shape, schema, parse, valid) => {
    expect(shape).toEqual(describeSchema(schema));
    expect(parse(valid)).toEqual({ success: true, data: valid });
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(valid), 'extra'), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)), (key, value) => {
        const input = { ...valid, [key]: value };
        expect(parse(input).success).toBe(schema.safeParse(input).success);
      }),
    );
  });

  it('take summary frames only, as zod does', () => {
    const summary = { id: 'p/dc1/web', sourceId: 'p', scope: 'dc1', name: 'web', tags: [], counts: { passing: 1, warning: 0, critical: 0, unknown: 0 }, weights: { blue: 100 }, drained: 0, breakersOpen: 0 };
    const frames = [
      { type: 'snapshot', rev: 1, sources: [], services: [summary] },
      { type: 'delta', fromRev: 1, rev: 2, ops: [{ op: 'summary.put', service: { ...summary, rollout: { state: 'Paused', step: 1, steps: 3 } } }, { op: 'source.delete', sourceId: 'p' }] },
      { type: 'heartbeat', rev: 2, serverTime: 'now' },
    ];
    for (const f of frames) expect(parseSummaryFrame(f)).toEqual({ success: true, data: f });
    expect(ServerMessage.safeParse({ type: 'pong', t: 1 }).success).toBe(true);
    expect(parseSummaryFrame({ type: 'pong', t: 1 }).success).toBe(false);
    fc.assert(
      fc.property(fc.constantFrom(...frames), fc.constantFrom('rev', 'type', 'ops', 'services', 'serverTime'), fc.jsonValue({ maxDepth: 2 }), (frame, key, value) => {
        const input = { ...frame, [key]: value };
        expect(parseSummaryFrame(input).success).toBe(ServerMessage.safeParse(input).success);
      }),
    );
  });
});
