import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ApiError, getJson } from './api';

const answer = (status: number, body: unknown) => vi.fn(async () => new Response(JSON.stringify(body), { status, statusText: status === 200 ? 'OK' : 'Not Found' }));

afterEach(() => vi.unstubAllGlobals());

describe('getJson', () => {
  const Schema = z.object({ n: z.number().int() });

  it('checks the answer against a schema given now or one still being imported', async () => {
    vi.stubGlobal('fetch', answer(200, { n: 1, extra: true }));
    expect(await getJson('/api/x', Schema)).toEqual({ n: 1 });
    expect(await getJson('/api/x', Promise.resolve(Schema))).toEqual({ n: 1 });
    vi.stubGlobal('fetch', answer(200, { n: 1.5 }));
    await expect(getJson('/api/x', Promise.resolve(Schema))).rejects.toThrow(/unexpected answer from \/api\/x: n:/);
  });

  it('reports a schema that could not be imported as an ApiError', async () => {
    vi.stubGlobal('fetch', answer(200, { n: 1 }));
    const failed = getJson('/api/x', Promise.reject(new Error('chunk failed')));
    await expect(failed).rejects.toBeInstanceOf(ApiError);
    await expect(failed).rejects.toThrow('cannot load the schema to check /api/x: chunk failed');
  });

  it('turns an error body into an ApiError carrying its words, whatever the schema import does', async () => {
    vi.stubGlobal('fetch', answer(404, { error: 'no such service', current: 3 }));
    const err = await getJson('/api/x', Promise.reject(new Error('never asked'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, message: 'no such service', body: { error: 'no such service', current: 3 } });
    vi.stubGlobal('fetch', answer(404, { message: 'not the error shape' }));
    await expect(getJson('/api/x', Schema)).rejects.toMatchObject({ status: 404, message: '404 Not Found', body: null });
  });
});
