/**
 * pagedList reads a list body chunk by chunk: text split inside a multi-byte character reads
 * the same, and a body over the limit is refused.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesClient } from './kubernetesClient';
import { DEFAULT_LIMITS, pagedList } from './boundedListWatch';

const items = Array.from({ length: 50 }, (_, i) => ({ metadata: { name: `pod-${i}`, namespace: 'shop', resourceVersion: String(i), labels: { team: 'zürich-€-😀'.repeat(1 + (i % 3)) } } }));
const body = Buffer.from(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '77' }, items }), 'utf8');

let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    void (async () => {
      // 7-byte writes, flushed apart: most land inside a 2-, 3- or 4-byte UTF-8 sequence.
      for (let i = 0; i < body.length; i += 7) {
        res.write(body.subarray(i, i + 7));
        if (i % 700 === 0) await sleep(1);
      }
      res.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function kubeConfig() {
  const kc = new (kubernetesClient().KubeConfig)();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: url, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  return kc;
}

describe('pagedList', () => {
  it('decodes a body whose chunks split multi-byte characters', async () => {
    const list = await pagedList(kubeConfig(), '/api/v1/pods', (o) => o)();
    expect(list.metadata?.resourceVersion).toBe('77');
    expect(list.items).toStrictEqual(items);
  });

  it('refuses a body longer than maxListBytes', async () => {
    await expect(pagedList(kubeConfig(), '/api/v1/pods', (o) => o, { ...DEFAULT_LIMITS, maxListBytes: 1_000 })()).rejects.toThrow(/exceeds 1000 bytes; refused/);
  });
});
