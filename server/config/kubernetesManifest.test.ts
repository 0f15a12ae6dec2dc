/**
 * deploy/kubernetes.yaml parses, holds the objects a two-replica install needs, and its embedded
 * switchboard.json passes the same validation `npm start` applies.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the manifest is read as loose YAML; the assertions are the schema */
import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { fromRaw } from './loadConfig';

const docs = loadAll(readFileSync(new URL('../../deploy/kubernetes.yaml', import.meta.url), 'utf8')) as any[];
const one = (kind: string, name?: string) => {
  const found = docs.filter((d) => d?.kind === kind && (name === undefined || d.metadata?.name === name));
  expect(found, `${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return found[0];
};
/** Whether some rule of a (Cluster)Role grants `verb` on `resource` in `group`. */
const grants = (role: any, group: string, resource: string, verb: string) =>
  (role.rules as any[]).some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));

describe('deploy/kubernetes.yaml', () => {
  it('holds exactly the expected objects, in the switchboard namespace where namespaced', () => {
    expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual([
      'v1 ServiceAccount',
      'rbac.authorization.k8s.io/v1 ClusterRole',
      'rbac.authorization.k8s.io/v1 ClusterRoleBinding',
      'rbac.authorization.k8s.io/v1 Role',
      'rbac.authorization.k8s.io/v1 RoleBinding',
      'v1 ConfigMap',
      'apps/v1 Deployment',
      'policy/v1 PodDisruptionBudget',
      'v1 Service',
    ]);
    for (const kind of ['ServiceAccount', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service']) expect(one(kind).metadata.namespace).toBe('switchboard');
  });

  it('runs two replicas with probes, the session secret from a Secret, spread over nodes', () => {
    const deployment = one('Deployment');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template;
    expect(deployment.spec.selector.matchLabels).toEqual(pod.metadata.labels);
    expect(pod.spec.serviceAccountName).toBe(one('ServiceAccount').metadata.name);
    const [container] = pod.spec.containers;
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const env = Object.fromEntries((container.env as any[]).map((e) => [e.name, e]));
    expect(env.SWITCHBOARD_SESSION_SECRET.valueFrom.secretKeyRef).toEqual({ name: 'switchboard-auth', key: 'session-secret' });
    const affinity = pod.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    expect(affinity).toEqual({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: pod.metadata.labels } });
    // A rolling update never takes a replica away before its replacement is ready.
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it('keeps one replica through voluntary disruptions, and the Service reaches both', () => {
    const labels = one('Deployment').spec.template.metadata.labels;
    expect(one('PodDisruptionBudget').spec).toEqual({ minAvailable: 1, selector: { matchLabels: labels } });
    expect(one('Service').spec.selector).toEqual(labels);
  });

  it('grants what Switchboard uses: watches, Service patches, the leader Lease', () => {
    const cluster = one('ClusterRole');
    for (const resource of ['services', 'endpoints', 'pods']) for (const verb of ['get', 'list', 'watch']) expect(grants(cluster, '', resource, verb), `${verb} ${resource}`).toBe(true);
    for (const verb of ['list', 'watch']) expect(grants(cluster, 'discovery.k8s.io', 'endpointslices', verb)).toBe(true);
    expect(grants(cluster, '', 'services', 'patch')).toBe(true);
    expect(grants(cluster, '', 'secrets', 'get')).toBe(false);
    const leader = one('Role', 'switchboard-leader');
    for (const verb of ['create', 'get', 'update']) expect(grants(leader, 'coordination.k8s.io', 'leases', verb), `${verb} leases`).toBe(true);
    for (const binding of [one('ClusterRoleBinding'), one('RoleBinding')]) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'switchboard', namespace: 'switchboard' }]);
    }
    expect(one('RoleBinding').metadata.namespace).toBe(leader.metadata.namespace);
  });

  it('configures a valid several-replica setup: stateless sessions, Prometheus telemetry', () => {
    const raw = JSON.parse(one('ConfigMap').data['switchboard.json']);
    const env = { OPS_TOKEN: 'x'.repeat(48), SWITCHBOARD_SESSION_SECRET: 'y'.repeat(64) };
    const config = fromRaw(raw, { file: null, env, cwd: '/' });
    expect(config.session.secret).toBe(env.SWITCHBOARD_SESSION_SECRET);
    expect(config.kubernetesSources).toMatchObject([{ inCluster: true }]);
    expect(raw.telemetry.store).toBe('prometheus');
    // Without the secret the pod would not start: the error names the field.
    expect(() => fromRaw(raw, { file: null, env: { OPS_TOKEN: 'x' }, cwd: '/' })).toThrow(/session\.secret: environment variable SWITCHBOARD_SESSION_SECRET is not set/);
  });
});
