/**
 * The WebSocket protocol at /api/ws, typed once for server and browser. Client→server and
 * server→client are separate unions; every frame is safeParse'd on arrival.
 *
 * A client subscribes to the summary (every source and service header with health counts
 * and badges) and watches the detail of the services it shows. Both streams share one
 * revision counter; `fromRev`/`rev` let a client see a gap and resume from what it has.
 *
 * A client may also subscribe in the URL: `/api/ws?subscribe=gzip` (or `=1`, uncompressed) is
 * the same as a first `subscribe` frame from nothing, and the snapshot is sent as soon as the
 * connection is up. Any other value is answered with a `bad_request` error frame.
 */
import { z } from 'zod';
import { Service, SourceStatus, ServiceSummary } from './model';
import { DeltaOp, SummaryOp } from './delta';
import { GraphEdge, GraphNode, GraphOp, GraphWindow } from './graph';

/** How many services one connection may watch at once (a page shows one; tabs share nothing). */
export const MAX_WATCHED_SERVICES = 64;

export const ClientMessage = z.discriminatedUnion('type', [
  /**
   * First frame after connecting. `sinceRev`: the last summary revision this client applied.
   * `compress: "gzip"`: send large frames (the list snapshot of a big fleet) gzip-compressed as
   * binary frames; every other frame stays JSON text.
   */
  z.object({ type: z.literal('subscribe'), sinceRev: z.number().int().nonnegative().optional(), compress: z.literal('gzip').optional() }),
  /** Follow one service's instances; `sinceRev`: the revision of the copy the client holds. */
  z.object({ type: z.literal('watch'), serviceId: z.string().min(1).max(1024), sinceRev: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal('unwatch'), serviceId: z.string().min(1).max(1024) }),
  z.object({ type: z.literal('ping'), t: z.number() }),
  /**
   * Follow the service graph over `window` (one graph per connection: a new watch replaces the
   * last). `sinceVersion`: the version of the copy the client holds, to resume without a snapshot.
   */
  z.object({ type: z.literal('graph.watch'), window: GraphWindow, sinceVersion: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal('graph.unwatch') }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const ServerMessage = z.discriminatedUnion('type', [
  /** The whole summary; the client replaces what it has. */
  z.object({ type: z.literal('snapshot'), rev: z.number().int(), sources: z.array(SourceStatus), services: z.array(ServiceSummary) }),
  /** Summary changes from `fromRev` (exclusive) to `rev` (inclusive). */
  z.object({ type: z.literal('delta'), fromRev: z.number().int(), rev: z.number().int(), ops: z.array(SummaryOp) }),
  /** One watched service in full (null: no such service now) as of `rev`. */
  z.object({ type: z.literal('service'), serviceId: z.string(), rev: z.number().int(), service: Service.nullable() }),
  /** One watched service's changes from `fromRev` (exclusive) to `rev` (inclusive). */
  z.object({ type: z.literal('service.delta'), serviceId: z.string(), fromRev: z.number().int(), rev: z.number().int(), ops: z.array(DeltaOp) }),
  /** Sent every `HEARTBEAT_MS`: the revision this client has been brought to, so it can detect a gap. */
  z.object({ type: z.literal('heartbeat'), rev: z.number().int(), serverTime: z.string() }),
  z.object({ type: z.literal('pong'), t: z.number() }),
  z.object({ type: z.literal('error'), code: z.enum(['bad_request', 'unauthorized', 'too_many']), message: z.string() }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/**
 * The graph stream's frames (opt-in with `graph.watch`), apart from ServerMessage so clients of
 * the summary and service streams see no new frame types. `version` counts the graph's changes
 * per window; a `graph.delta` whose `fromVersion` is not the client's version means a gap:
 * watch again with `sinceVersion`.
 */
export const GraphServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('graph'), window: GraphWindow, version: z.number().int(), nodes: z.array(GraphNode), edges: z.array(GraphEdge) }),
  z.object({ type: z.literal('graph.delta'), window: GraphWindow, fromVersion: z.number().int(), version: z.number().int(), ops: z.array(GraphOp) }),
]);
export type GraphServerMessage = z.infer<typeof GraphServerMessage>;

/** Every frame a server may send on /api/ws: what a client that watches the graph parses. */
export const AnyServerMessage = z.discriminatedUnion('type', [...ServerMessage.options, ...GraphServerMessage.options]);
export type AnyServerMessage = z.infer<typeof AnyServerMessage>;

export { HEARTBEAT_MS } from './realtimeTiming';
