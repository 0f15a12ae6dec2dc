/**
 * The one body reader, shared by the REST API and the gateway (and exported for the embedded
 * registry to adopt): the limit is enforced while streaming, so an oversized body costs at
 * most `limit` bytes of memory, whatever Content-Length claims or omits.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { HttpError } from './httpError';

/** @default 65536 (config `limits.bodyBytes`) */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

export interface ReadBodyOptions {
  /** Most bytes accepted. @default DEFAULT_BODY_LIMIT */
  limit?: number;
}

/** The raw body. Throws `payload_too_large` as soon as the limit is passed (or Content-Length says it will be). */
export async function readBody(req: IncomingMessage, options: ReadBodyOptions = {}): Promise<Buffer> {
  const limit = options.limit ?? DEFAULT_BODY_LIMIT;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Whether the request's media type is exactly `application/json` (parameters such as charset
 * allowed). A substring test would take `text/plain;application/json`, which a cross-site form
 * or `fetch` may send without a CORS preflight.
 */
export function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  return contentType.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

export interface ReadJsonOptions extends ReadBodyOptions {
  /** An empty body (any or no content-type) is `{}`: for endpoints whose fields are all optional. */
  emptyIsObject?: boolean;
}

/** A JSON body checked against `schema`; 415, 413 and 400 (naming the field) otherwise. */
export async function readJson<S extends z.ZodType>(req: IncomingMessage, schema: S, options: ReadJsonOptions = {}): Promise<z.infer<S>> {
  const type = req.headers['content-type'];
  if (type !== undefined && !isJson(type)) throw new HttpError('unsupported_media_type', 'content-type must be application/json');
  const text = (await readBody(req, options)).toString('utf8');
  let json: unknown;
  if (text.trim() === '' && options.emptyIsObject) json = {};
  else {
    if (type === undefined) throw new HttpError('unsupported_media_type', 'content-type must be application/json');
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new HttpError('bad_request', `body is not valid JSON: ${(err as Error).message}`);
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new HttpError('bad_request', describeIssues(parsed.error));
  return parsed.data;
}

export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

/**
 * Reads and discards what is left of a request body (up to `max` bytes) so an early answer
 * (401, 404, 413…) reaches the client instead of a reset: closing a socket with unread bytes
 * makes the kernel send RST, and the client loses the response it was about to read.
 * Resolves true when the body ended, false when it was larger than `max` or stalled.
 */
export function drainBody(req: IncomingMessage, max = 1024 * 1024, timeoutMs = 5_000): Promise<boolean> {
  if (req.complete || req.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    let seen = 0;
    const done = (ended: boolean) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onEnd);
      if (!ended) req.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > max) done(false);
    };
    const onEnd = () => done(req.complete);
    const timer = setTimeout(() => done(false), timeoutMs);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onEnd);
    req.resume();
  });
}

function tooLarge(limit: number): HttpError {
  // The rest of the body is not read: the connection cannot be reused.
  return new HttpError('payload_too_large', `body larger than ${limit} bytes`, { headers: { connection: 'close' } });
}
