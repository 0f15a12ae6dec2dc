/**
 * The wire shapes the first page checks before it can show anything, written out as plain
 * Shapes (lib/schemaCheck.ts) so that the list's first render needs no zod: zod and the
 * protocol's schemas were about a sixth of the page's JavaScript and of its main-thread time
 * before the first row (compiling, then constructing every schema). Everything else still
 * validates with protocol/'s zod schemas, imported when first needed.
 *
 * These mirror protocol/realtime.ts (the summary frames), protocol/api.ts (ErrorBody,
 * SessionResponse: the header asks on every page) and protocol/graph.ts (ObservedCalls: `/`
 * asks it before it knows whether to show the list or the graph);
 * lib/wireShapes.test.ts fails when they no longer describe exactly what those schemas accept.
 */
import type { ErrorBody, SessionResponse } from '@/protocol/api';
import type { ObservedCalls } from '@/protocol/graph';
import type { ServerMessage } from '@/protocol/realtime';
import { shapeParser, type Shape } from './schemaCheck';

const str: Shape = 'string';
const int: Shape = 'int';

export const SOURCE_STATUS: Shape = {
  object: {
    id: str,
    kind: { enum: ['consul', 'dns', 'embedded', 'kubernetes'] },
    name: str,
    address: { nullable: str },
    state: { enum: ['down', 'ok', 'stale', 'syncing'] },
    lastSyncAt: { nullable: str },
    lastError: { nullable: str },
    scopes: { array: str },
    detail: { optional: { nullable: str } },
  },
};

export const SERVICE_SUMMARY: Shape = {
  object: {
    id: str,
    sourceId: str,
    scope: str,
    name: str,
    tags: { array: str },
    counts: { object: { passing: int, warning: int, critical: int, unknown: int } },
    weights: { nullable: { record: 'number' } },
    drained: int,
    breakersOpen: int,
    rollout: { optional: { object: { state: { enum: ['Aborted', 'Failed', 'Paused', 'Progressing', 'Promoted'] }, step: int, steps: int } } },
  },
};

const SUMMARY_OP: Shape = {
  union: 'op',
  options: [
    { object: { op: { literal: ['source.put'] }, source: SOURCE_STATUS } },
    { object: { op: { literal: ['source.delete'] }, sourceId: str } },
    { object: { op: { literal: ['summary.put'] }, service: SERVICE_SUMMARY } },
    { object: { op: { literal: ['summary.delete'] }, serviceId: str } },
  ],
};

/** The summary stream's frames: every service's header (snapshot), changes to them (delta), and heartbeats. */
export const SUMMARY_FRAMES = {
  snapshot: { object: { type: { literal: ['snapshot'] }, rev: int, sources: { array: SOURCE_STATUS }, services: { array: SERVICE_SUMMARY } } },
  delta: { object: { type: { literal: ['delta'] }, fromRev: int, rev: int, ops: { array: SUMMARY_OP } } },
  heartbeat: { object: { type: { literal: ['heartbeat'] }, rev: int, serverTime: str } },
} satisfies Record<string, Shape>;

export type SummaryFrame = Extract<ServerMessage, { type: keyof typeof SUMMARY_FRAMES }>;

export const isSummaryFrameType = (type: unknown): type is SummaryFrame['type'] => type === 'snapshot' || type === 'delta' || type === 'heartbeat';

/** Checks a snapshot, delta or heartbeat frame (other frame types are refused). */
export const parseSummaryFrame = shapeParser<SummaryFrame>({ union: 'type', options: Object.values(SUMMARY_FRAMES) });

export const ERROR_BODY: Shape = { object: { error: str } };

/** `{ "error": "…" }`, the body of every 4xx/5xx answer. */
export const parseErrorBody = shapeParser<ErrorBody>(ERROR_BODY);

const ROLE: Shape = { enum: ['admin', 'client', 'operator', 'viewer'] };

export const SESSION_RESPONSE: Shape = {
  object: {
    user: { nullable: { object: { name: str, role: ROLE } } },
    anonymousRole: { nullable: ROLE },
    csrfToken: { nullable: str },
    passwordSignIn: { optional: 'boolean' },
  },
};

/** GET /api/session: who is signed in, and the CSRF token. */
export const parseSessionResponse = shapeParser<SessionResponse>(SESSION_RESPONSE);

export const OBSERVED_CALLS: Shape = { object: { window: { enum: ['15m', '1m', '5m'] }, observed: 'boolean' } };

/** GET /api/graph/observed: were calls observed (does `/` open on the graph?). */
export const parseObservedCalls = shapeParser<ObservedCalls>(OBSERVED_CALLS);
