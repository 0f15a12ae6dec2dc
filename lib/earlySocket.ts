/**
 * The list's data should not wait for the page's JavaScript. An inline script in the document
 * head (app/layout.tsx) opens /api/ws and subscribes to the summary while the bundles are still
 * downloading; the snapshot (the whole list, ≈60 KB gzip, 2 MB of JSON for 10,000 services)
 * then travels, and is inflated and parsed, while the main thread would otherwise wait for the
 * bundles — not after hydration. Frames are kept in order; nothing is validated or applied
 * here. LiveTopology (lib/liveTopology.ts) adopts the socket and its frames when it starts,
 * and from then on the connection is its own as if it had opened it.
 *
 * The script opens nothing on /signin (no connection is made there) or where WebSocket is
 * missing. A socket the server refused (not signed in) is simply closed when LiveTopology
 * looks, and it connects as it always did.
 */

/** Where the inline script leaves its socket on `window`. */
export const EARLY_SOCKET_KEY = '__switchboardEarlySocket';

/**
 * The early socket subscribes in its URL (protocol/realtime.ts, `?subscribe=gzip`): the server
 * sends the snapshot as soon as the connection is up. A subscribe frame would wait for the
 * `open` event, which the page's main thread dispatches only after evaluating the bundles
 * (measured: the socket was made at ~150 ms, subscribed at ~450 ms).
 */
export const EARLY_SOCKET_PATH = '/api/ws?subscribe=gzip';

/** A compressed frame being inflated and parsed: `json` (undefined if unreadable) once `done`. */
export interface DecodingFrame {
  ready: Promise<unknown>;
  done: boolean;
  json?: unknown;
}

export interface EarlySocket {
  ws: WebSocket;
  /**
   * Frames received before adoption, oldest first: text frames as they came, compressed
   * (binary) ones as they are decoded (raw only where DecompressionStream is missing).
   */
  frames: (string | ArrayBuffer | DecodingFrame)[];
  /** The summary is subscribed (by the socket's URL), so LiveTopology sends no subscribe frame. */
  subscribed: boolean;
}

export function socketUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/ws`;
}

/**
 * The inline script's source (no imports: it runs before any bundle; strict-mode safe, as it is
 * an async module script so that it does not wait for the stylesheet). Failing is harmless.
 */
export const earlySocketScript =
  `try{if(location.pathname!=='/signin'&&typeof WebSocket==='function'){` +
  `var w=new WebSocket((location.protocol==='https:'?'wss':'ws')+'://'+location.host+${JSON.stringify(EARLY_SOCKET_PATH)});w.binaryType='arraybuffer';` +
  `var e={ws:w,frames:[],subscribed:true};` +
  `w.onmessage=function(m){var d=m.data;if(typeof d==='string'||typeof DecompressionStream!=='function'){e.frames.push(d);return}` +
  `var f={done:false};f.ready=new Response(new Blob([d]).stream().pipeThrough(new DecompressionStream('gzip'))).text().then(JSON.parse)` +
  `.catch(function(){}).then(function(j){f.json=j;f.done=true;return j});e.frames.push(f)};` +
  `window[${JSON.stringify(EARLY_SOCKET_KEY)}]=e}}catch(x){}`;

/**
 * The socket the inline script opened, once (later calls get null), if it is still connecting
 * or open. Its handlers are cleared: the caller installs its own and replays `frames`.
 */
export function takeEarlySocket(win: object = globalThis): EarlySocket | null {
  const slot = win as Record<string, EarlySocket | undefined>;
  const early = slot[EARLY_SOCKET_KEY];
  if (!early) return null;
  delete slot[EARLY_SOCKET_KEY];
  const { ws } = early;
  ws.onopen = ws.onmessage = null;
  // CLOSING or CLOSED: refused (not signed in) or dropped; the caller connects afresh.
  return ws.readyState > 1 ? null : early;
}
