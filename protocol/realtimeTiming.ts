/**
 * The WebSocket protocol's timing (re-exported by protocol/realtime.ts), in a module of its
 * own without zod: the browser's first page uses it and loads no schema (lib/wireShapes.ts).
 */

/** @default 15000 — the client treats 2.5× this without any frame as a dead connection. */
export const HEARTBEAT_MS = 15_000;
