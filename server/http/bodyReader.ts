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

function tooLarge(limit: number): HttpError {
  // The rest of the body is not read: the connection cannot be reused.
  return new HttpError('payload_too_large', `body larger than ${limit} bytes`, { headers: { connection: 'close' } });
}
