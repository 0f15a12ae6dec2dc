/**
 * Compaction (kubernetesCompact.ts) and its shared values (kubernetesIntern.ts): what the source
 * reads from a compacted object is what it would read from the original, over random pods and
 * slices (v1 and v1beta1 shapes, nil and malformed fields); shared objects are frozen; the
 * interning tables stay bounded under label churn.
 */
import fc from 'fast-check';
import type { KubernetesObject } from '@kubernetes/client-node';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { fromSlices, type KubeEndpointSlice, type KubePod, type KubeService } from '../../../clients/kubernetes/kubernetesObjects';
import { compactEndpoints, compactPod, compactService, compactSlice, labelSets } from './kubernetesCompact';
import { LabelSetInterner, sharedConditions, StringInterner } from './kubernetesIntern';
import { toService } from './kubernetesNormalize';
import { fromEndpoints, type KubeEndpoints } from '../../../clients/kubernetes/kubernetesObjects';

const ns = fc.constantFrom('default', 'shop', 'payments-production');
const podName = fc.constantFrom('web-0', 'web-1', 'web-2', 'api-7d9f-abcde', 'x');
/** A condition as an apiserver (or a broken one) may send it. */
const cond = fc.constantFrom<unknown>(true, false, null, undefined, undefined, 'yes', 0);
const labelKey = fc.constantFrom('app', 'color', 'pod-template-hash', 'app.kubernetes.io/name', '__proto__', 'constructor', '0');
const labelValue = fc.oneof(fc.constantFrom('web', 'blue', 'green', '5d8f7c9b4', 'a-rather-long-label-value-for-interning', ''), fc.string({ maxLength: 6 }));
const labels = fc.oneof(
  fc.dictionary(labelKey, labelValue, { maxKeys: 4 }),
  fc.constantFrom<unknown>(undefined, null, {}),
);
const targetRef = fc.oneof(
  fc.record({ kind: fc.constantFrom<unknown>('Pod', 'Node', undefined), name: fc.option(podName, { nil: undefined }), namespace: fc.option(ns, { nil: undefined }) }, { requiredKeys: [] }),
  fc.constantFrom<unknown>(undefined, null),
);
const endpoint = fc.record(
  {
    addresses: fc.oneof(fc.array(fc.ipV4(), { maxLength: 2 }), fc.constantFrom<unknown>(undefined, null)),
    conditions: fc.oneof(fc.record({ ready: cond, serving: cond, terminating: cond }, { requiredKeys: [] }), fc.constantFrom<unknown>(undefined, null)),
    nodeName: fc.option(fc.constantFrom('node-a', 'ip-10-0-1-23.ec2.internal'), { nil: undefined }),
    zone: fc.option(fc.constantFrom('zone-a', 'us-east-1a'), { nil: undefined }),
    // v1beta1 keeps node and zone here.
    topology: fc.option(fc.record({ 'kubernetes.io/hostname': fc.constantFrom('node-b', 'node-c'), 'topology.kubernetes.io/zone': fc.constantFrom('zone-b', 'zone-c') }, { requiredKeys: [] }), { nil: undefined }),
    targetRef,
    hostname: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
  },
  { requiredKeys: ['addresses'] },
);
const slice = fc.record({
  metadata: fc.record({ name: fc.constantFrom('web-abc', 'web-def'), namespace: ns, resourceVersion: fc.nat().map(String), labels: fc.option(fc.constant({ 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' }), { nil: undefined }) }),
  addressType: fc.constant('IPv4'),
  ports: fc.oneof(fc.array(fc.record({ name: fc.constantFrom('http', 'grpc'), port: fc.option(fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constant(1.5)), { nil: undefined }), protocol: fc.constant('TCP') }, { requiredKeys: ['name'] }), { maxLength: 2 }), fc.constantFrom<unknown>(null, undefined)),
  endpoints: fc.oneof(fc.array(endpoint, { maxLength: 5 }), fc.constantFrom<unknown>(null, undefined)),
});
const pod = fc.record({
  metadata: fc.record({ name: podName, namespace: ns, resourceVersion: fc.nat().map(String), uid: fc.uuid(), labels }),
  spec: fc.constant({ nodeName: 'node-a', containers: [{ name: 'app', image: 'app:1' }] }),
  status: fc.constant({ phase: 'Running' }),
});

/** As the informer gets it: a fresh parse of the wire JSON, then compaction. */
const wire = <T>(o: unknown): T => JSON.parse(JSON.stringify(o)) as T;
const compacted = <T>(compact: (o: KubernetesObject) => KubernetesObject, o: unknown): T => compact(wire<KubernetesObject>(o)) as unknown as T;

describe('compacted Kubernetes objects read as the originals', () => {
  it('fromSlices and toService give the same result from compacted slices and pods (property)', () => {
    fc.assert(
      fc.property(fc.array(slice, { maxLength: 3 }), fc.array(pod, { maxLength: 6 }), (slices, pods) => {
        const raw = slices.map((s) => wire<KubeEndpointSlice>(s));
        const small = slices.map((s) => compacted<KubeEndpointSlice>(compactSlice, s));
        expect(fromSlices(small)).toStrictEqual(fromSlices(raw));
        const labelsFrom = (list: KubePod[]) => (namespace: string, name: string) => list.findLast((p) => p.metadata.name === name && p.metadata.namespace === namespace)?.metadata.labels;
        const svc: KubeService = { metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.0.1' } };
        const rawPods = pods.map((p) => wire<KubePod>({ ...p, metadata: { ...p.metadata, namespace: 'shop' } }));
        const smallPods = pods.map((p) => compacted<KubePod>(compactPod, { ...p, metadata: { ...p.metadata, namespace: 'shop' } }));
        expect(JSON.stringify(toService('k8s', svc, fromSlices(small), labelsFrom(smallPods)))).toBe(JSON.stringify(toService('k8s', svc, fromSlices(raw), labelsFrom(rawPods))));
      }),
      { numRuns: 400 },
    );
  });

  it('a compacted pod keeps its name, namespace, resourceVersion and labels', () => {
    fc.assert(
      fc.property(pod, (p) => {
        const small = compacted<KubePod>(compactPod, p);
        expect(small.metadata.name).toBe(p.metadata.name);
        expect(small.metadata.namespace).toBe(p.metadata.namespace);
        expect(small.metadata.resourceVersion).toBe(p.metadata.resourceVersion);
        const expected = p.metadata.labels ?? {};
        expect(Object.entries(small.metadata.labels!).sort()).toStrictEqual(Object.entries(wire<object>(expected)).sort());
        expect(Object.getPrototypeOf(small.metadata.labels)).toBe(Object.prototype);
      }),
    );
  });

  it('a compacted Service and core Endpoints keep what the source reads', () => {
    const svc = { metadata: { name: 'web', namespace: 'shop', resourceVersion: '9', annotations: { 'switchboard.dev/traffic': '{"version":1}', other: 'x' } }, spec: { clusterIP: 'None', selector: { app: 'web' } } };
    expect(compacted(compactService, svc)).toStrictEqual({ metadata: { name: 'web', namespace: 'shop', resourceVersion: '9', annotations: { 'switchboard.dev/traffic': '{"version":1}' } }, spec: { clusterIP: 'None' } });
    expect(compacted(compactService, { metadata: { name: 'web', namespace: 'shop' } })).toStrictEqual({ metadata: { name: 'web', namespace: 'shop', resourceVersion: undefined } });
    const eps = { metadata: { name: 'web', namespace: 'shop', resourceVersion: '3' }, subsets: [{ addresses: [{ ip: '10.0.0.1', nodeName: 'node-a', targetRef: { kind: 'Pod', name: 'web-0' } }], notReadyAddresses: [{ ip: '10.0.0.2' }], ports: [{ name: 'http', port: 8080 }, { port: 9090 }] }] };
    expect(fromEndpoints(compacted<KubeEndpoints>(compactEndpoints, eps))).toStrictEqual(fromEndpoints(wire<KubeEndpoints>(eps)));
  });
});

describe('shared values are frozen', () => {
  it('pods with the same labels share one frozen set, whatever the key order', () => {
    const a = compacted<KubePod>(compactPod, { metadata: { name: 'a', namespace: 'shop', labels: { app: 'web', color: 'blue' } } });
    const b = compacted<KubePod>(compactPod, { metadata: { name: 'b', namespace: 'shop', labels: { color: 'blue', app: 'web' } } });
    const c = compacted<KubePod>(compactPod, { metadata: { name: 'c', namespace: 'shop', labels: { app: 'web', color: 'green' } } });
    expect(a.metadata.labels).toBe(b.metadata.labels);
    expect(a.metadata.labels).not.toBe(c.metadata.labels);
    expect(Object.isFrozen(a.metadata.labels)).toBe(true);
    expect(() => {
      (a.metadata.labels as Record<string, string>).color = 'green';
    }).toThrow(TypeError);
    expect(b.metadata.labels).toStrictEqual({ app: 'web', color: 'blue' });
    const bare = compacted<KubePod>(compactPod, { metadata: { name: 'd', namespace: 'shop' } });
    expect(Object.isFrozen(bare.metadata.labels)).toBe(true);
  });

  it("endpoints share frozen conditions, slices a frozen port list, and label values and node names are one string", () => {
    const ep = (ready: boolean, nodeName: string) => ({ addresses: ['10.0.0.1'], conditions: { ready, serving: ready, terminating: false }, nodeName, targetRef: { kind: 'Pod', name: 'web-0' } });
    const s1 = compacted<KubeEndpointSlice>(compactSlice, { metadata: { name: 's1', namespace: 'shop' }, ports: [{ port: 8080 }], endpoints: [ep(true, 'ip-10-0-1-23.ec2.internal'), ep(false, 'ip-10-0-1-23.ec2.internal')] });
    const s2 = compacted<KubeEndpointSlice>(compactSlice, { metadata: { name: 's2', namespace: 'shop' }, ports: [{ port: 8080 }], endpoints: [ep(true, 'ip-10-0-1-23.ec2.internal')] });
    const [e1, e2] = s1.endpoints!;
    expect(e1!.conditions).toBe(s2.endpoints![0]!.conditions);
    expect(e1!.conditions).not.toBe(e2!.conditions);
    expect(Object.isFrozen(e1!.conditions)).toBe(true);
    expect(() => {
      (e1!.conditions as { ready: boolean }).ready = false;
    }).toThrow(TypeError);
    expect(s1.ports).toBe(s2.ports);
    expect(Object.isFrozen(s1.ports)).toBe(true);
    expect(Object.isFrozen(s1.ports![0])).toBe(true);
    expect(() => (s1.ports as { port: number }[]).push({ port: 1 })).toThrow(TypeError);
    // Strings: equal content from two parses is one string once interned (not observable by ===, but by the table).
    const strings = new StringInterner();
    const x = strings.intern(JSON.parse('"ip-10-0-1-23.ec2.internal"') as string);
    expect(strings.intern(JSON.parse('"ip-10-0-1-23.ec2.internal"') as string)).toBe(x);
    expect(strings.size).toBe(1);
  });

  it('conditions resolve nil as registry-semantics C2 says, and leave malformed ones to the caller', () => {
    expect(sharedConditions(undefined)).toStrictEqual({ ready: true, serving: true, terminating: false });
    expect(sharedConditions({ ready: false, terminating: true })).toStrictEqual({ ready: false, serving: false, terminating: true });
    expect(sharedConditions({ ready: false, serving: true, terminating: true })).toStrictEqual({ ready: false, serving: true, terminating: true });
    expect(sharedConditions({ ready: 'yes' })).toBeUndefined();
  });
});

describe('interning stays bounded', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  it('label sets no pod uses any more are dropped from the table (rollouts: a new pod-template-hash each time)', async () => {
    const table = new LabelSetInterner(new StringInterner());
    let live: unknown[] = [];
    for (let rollout = 0; rollout < 50; rollout++) {
      // 200 Deployments, each rolled out: the previous label sets lose their last pod.
      live = Array.from({ length: 2_000 }, (_, i) => table.intern({ app: `app-${i % 200}`, 'pod-template-hash': `h${rollout}-${i % 200}` }));
    }
    expect(new Set(live).size).toBe(200);
    for (let i = 0; i < 50 && table.size > 1_000; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // 10,000 distinct sets were made; the 200 in use remain (a few dead ones may await their sweep).
    expect(table.size).toBeLessThan(1_000);
    expect(table.size).toBeGreaterThanOrEqual(200);
    // Still shared after the sweeps.
    expect(table.intern({ 'pod-template-hash': 'h49-7', app: 'app-7' })).toBe(live[7]);
  });

  it('the process-wide label table holds no more than the sets in use', async () => {
    const before = labelSets.size;
    let pods: KubernetesObject[] = [];
    for (let round = 0; round < 20; round++) pods = Array.from({ length: 500 }, (_, i) => compactPod(wire({ metadata: { name: `p${i}`, namespace: 'shop', labels: { app: 'web', rev: `r${round}-${i}` } } })));
    for (let i = 0; i < 50 && labelSets.size > before + 1_000; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(pods).toHaveLength(500);
    expect(labelSets.size).toBeLessThan(before + 1_000);
  });

  it('the string table keeps at most two generations', () => {
    const strings = new StringInterner(1_000);
    for (let i = 0; i < 100_000; i++) strings.intern(`node-${i}.compute.internal`);
    expect(strings.size).toBeLessThanOrEqual(2_000);
    // A value that keeps recurring stays shared across generations.
    const hot = strings.intern(JSON.parse('"zone-us-east-1a"') as string);
    for (let i = 0; i < 10_000; i++) {
      strings.intern(`churn-${i}`);
      if (i % 500 === 0) expect(strings.intern(JSON.parse('"zone-us-east-1a"') as string)).toBe(hot);
    }
  });
});

describe('check output', () => {
  it('is the conditions as text, one shared string per combination of booleans', () => {
    const output = (ready: unknown, serving: unknown, terminating: unknown) =>
      toService('k8s', { metadata: { name: 'web', namespace: 'shop' } }, [{ address: '10.0.0.1', port: 80, ready, serving, terminating, nodeName: null, zone: null, pod: null } as never], () => undefined).instances[0]!.checks[0]!.output;
    for (const ready of [true, false]) for (const serving of [true, false]) for (const terminating of [true, false]) expect(output(ready, serving, terminating)).toBe(`ready=${ready} serving=${serving} terminating=${terminating}`);
    expect(output('yes', 0, null)).toBe('ready=yes serving=0 terminating=null');
  });
});
