/**
 * The WebSocket protocol at /api/ws, typed once for server and browser. Client→server and
 * server→client are separate unions; every frame is safeParse'd on arrival.
 */
import { z } from 'zod';
import { Topology } from './model';
import { DeltaOp } from './delta';

export const ClientMessage = z.discriminatedUnion('type', [
  /** First frame after connecting. `sinceRev`: the last revision this client applied. */
  z.object({ type: z.literal('subscribe'), sinceRev: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal('ping'), t: z.number() }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const ServerMessage = z.discriminatedUnion('type', [
  /** Full state; the client replaces what it has. */
  z.object({ type: z.literal('snapshot'), topology: Topology }),
  /** Changes from `fromRev` (exclusive) to `rev` (inclusive); applies only if the client is at `fromRev`. */
  z.object({ type: z.literal('delta'), fromRev: z.number().int(), rev: z.number().int(), ops: z.array(DeltaOp) }),
  /** Sent every `HEARTBEAT_MS`; carries the current revision so a client can detect a gap. */
  z.object({ type: z.literal('heartbeat'), rev: z.number().int(), serverTime: z.string() }),
  z.object({ type: z.literal('pong'), t: z.number() }),
  z.object({ type: z.literal('error'), code: z.enum(['bad_request', 'unauthorized']), message: z.string() }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** @default 15000 — the client treats 2.5× this without any frame as a dead connection. */
export const HEARTBEAT_MS = 15_000;
