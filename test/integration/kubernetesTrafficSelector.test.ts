/**
 * On Kubernetes a policy with all weight on one subset also patches the Service selector. Over
 * HTTP, against a running control plane and the fake API server: the patch only ever changes
 * the label keys that tell the policy's subsets apart and keeps the Service's base selector,
 * so `force` with custom subsets cannot point a Service at another app's pods.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Switchboard } from '../../server/switchboard';
import { startFromConfig } from '../support/controlPlane';
import { startFakeKubeApiServer, type FakeKubeApiServer, type KubeObject } from '../support/fakeKubeApiServer';
import { pod, service, slice, writeKubeconfig } from '../support/kubernetesSuite';

const NS = 'shop'; // the namespace kubernetesSuite's builders use

let fake: FakeKubeApiServer;
let sb: Switchboard;
let api: string;
const headers = { authorization: 'Bearer op-token', 'content-type': 'application/json' };
const dir = mkdtempSync(join(tmpdir(), 'sb-k8s-selector-'));

beforeAll(async () => {
  fake = await startFakeKubeApiServer({ token: 'fake-token' });
  fake.put('pods', pod('pay-1', { app: 'pay', color: 'blue' }) as unknown as KubeObject);
  fake.put('pods', pod('pay-2', { app: 'pay', color: 'green' }) as unknown as KubeObject);
  fake.put('pods', pod('db-1', { app: 'database', color: 'blue' }) as unknown as KubeObject);
  fake.put('services', service('pay') as unknown as KubeObject);
  fake.put('endpointslices', slice('pay-abc', 'pay', [{ ip: '192.0.2.1', ready: true, pod: 'pay-1' }, { ip: '192.0.2.2', ready: true, pod: 'pay-2' }], 'v1') as unknown as KubeObject);
  const kubeconfig = writeKubeconfig(dir, fake.url, fake.token, { insecure: true });
  let base: string;
  ({ sb, base } = await startFromConfig({ sources: [{ kind: 'kubernetes', name: 'k8s', kubeconfig, namespaces: [NS] }], auth: { anonymousRole: null, users: [{ name: 'op', role: 'operator', token: 'op-token' }] } }));
  api = `${base}/api/services/k8s/${NS}/pay/traffic`;
  await vi.waitFor(() => expect(sb.store.service(`k8s/${NS}/pay`)?.instances.filter((i) => i.health === 'passing')).toHaveLength(2), { timeout: 20_000 });
});

afterAll(async () => {
  await sb?.close();
  await fake?.stop();
});

const readService = async () =>
  (await (await fetch(`${fake.url}/api/v1/namespaces/${NS}/services/pay`, { headers: { authorization: `Bearer ${fake.token}` } })).json()) as {
    metadata: { annotations?: Record<string, string> };
    spec: { selector: Record<string, string> };
  };
const send = async (method: string, path: string, body: unknown) => {
  const r = await fetch(`${api}${path}`, { method, headers, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as { error?: string; policy?: { weights: Record<string, number> } } };
};
const colours = { blue: { tags: ['color=blue'] }, green: { tags: ['color=green'] } };

describe('Kubernetes selector patches', () => {
  it('a flip changes only the colour label and records the base selector', async () => {
    expect((await send('POST', '/enable', {})).status).toBe(200);
    let svc = await readService();
    expect(svc.spec.selector).toEqual({ app: 'pay', color: 'blue' });
    expect(JSON.parse(svc.metadata.annotations!['switchboard.dev/base-selector']!)).toEqual({ app: 'pay' });
    expect((await send('POST', '/flip', {})).status).toBe(200);
    svc = await readService();
    expect(svc.spec.selector).toEqual({ app: 'pay', color: 'green' });
  });

  it('refuses force with custom subsets that would point the Service at other pods, naming why; nothing changes', async () => {
    const before = await readService();
    const hijack = await send('PUT', '', { subsets: { mine: { tags: ['app=pay'] }, theirs: { tags: ['app=database'] } }, weights: { theirs: 100 }, force: true, reason: 'hijack' });
    expect(hijack.status).toBe(400);
    expect(hijack.body.error).toContain("would change the selector label app, which belongs to the Service's base selector (app=pay)");
    // A canary over such subsets changes no selector, and cannot launder the base key for a later flip.
    const canary = await send('PUT', '', { subsets: { mine: { tags: ['app=pay'] }, theirs: { tags: ['app=database'] } }, weights: { mine: 50, theirs: 50 }, force: true });
    expect(canary.status).toBe(200);
    const flip = await send('POST', '/flip', { force: true });
    expect(flip.status).toBe(400);
    expect(flip.body.error).toContain('base selector');
    const after = await readService();
    expect(after.spec.selector).toEqual(before.spec.selector);
    expect(after.metadata.annotations!['switchboard.dev/base-selector']).toBe(before.metadata.annotations!['switchboard.dev/base-selector']);
    // The refusals are in the audit trail, the applied changes untouched.
    const history = (await (await fetch(`${api}/history`, { headers })).json()) as { outcome: string; error?: string }[];
    expect(history.filter((h) => h.outcome === 'rejected').map((h) => h.error)).toEqual([expect.stringContaining('base selector'), expect.stringContaining('base selector')]);
  });

  it('still lets an operator go back to a legitimate blue/green policy', async () => {
    const back = await send('PUT', '', { subsets: colours, weights: { blue: 100 }, force: true, reason: 'back to blue' });
    expect(back.status).toBe(200);
    expect((await readService()).spec.selector).toEqual({ app: 'pay', color: 'blue' });
  });
});
