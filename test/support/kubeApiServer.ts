/**
 * A real kube-apiserver 1.20.2 with etcd 3.4 on loopback (built once by
 * scripts/build-kube-apiserver.sh, cached under .cache/kube): TLS with a CA made here with
 * openssl, token auth (an admin in system:masters and a `limited` user), RBAC authorization,
 * anonymous auth off. Behaviour and differences from a full cluster:
 * ../shared/reference/kubernetes-apiserver.md (no controllers, EndpointSlice v1beta1 only).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePorts } from './consulAgent';

export interface KubeApiServer {
  url: string;
  ca: string;
  adminToken: string;
  limitedToken: string;
  /** An authenticated JSON request as the admin. */
  call(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
  start(): Promise<void>;
  logs(): string;
}

const root = resolve(import.meta.dirname, '..', '..');

export function kubeBinaries(): string {
  return execFileSync('bash', [join(root, 'scripts', 'build-kube-apiserver.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export async function startKubeApiServer(): Promise<KubeApiServer> {
  const bin = kubeBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'sb-kube-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=switchboard-test-ca');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  ssl('genrsa', '-out', 'sa.key', '2048');
  ssl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
  const adminToken = 'admin-token-0123456789';
  const limitedToken = 'limited-token-0123456789';
  writeFileSync(join(dir, 'tokens.csv'), `${adminToken},admin,1,"system:masters"\n${limitedToken},limited,2\n`);
  const [etcdClient, etcdPeer, apiPort] = await freePorts(3);
  mkdirSync(join(dir, 'etcd'));
  let output = '';
  const etcd = spawn(join(bin, 'etcd'), [
    '--data-dir', join(dir, 'etcd'), '--name', 'n',
    '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster', `n=http://127.0.0.1:${etcdPeer}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  etcd.stdout?.on('data', (d) => (output += d));
  etcd.stderr?.on('data', (d) => (output += d));
  const ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  const url = `https://127.0.0.1:${apiPort}`;

  const call: KubeApiServer['call'] = (method, path, body, contentType = 'application/json') =>
    new Promise((ok, fail) => {
      const req = request(`${url}${path}`, { method, ca, headers: { authorization: `Bearer ${adminToken}`, 'content-type': contentType, accept: 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let parsed: Record<string, unknown>;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { text }; // /readyz and friends answer plain text
          }
          ok({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('error', fail);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  let api: ChildProcess | null = null;
  const start = async () => {
    api = spawn(join(bin, 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`, '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, '--advertise-address=127.0.0.1',
      `--tls-cert-file=${join(dir, 'server.crt')}`, `--tls-private-key-file=${join(dir, 'server.key')}`, `--client-ca-file=${join(dir, 'ca.crt')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`, '--anonymous-auth=false', '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc', `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16', '--endpoint-reconciler-type=none',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    api.stdout?.on('data', (d) => (output += d));
    api.stderr?.on('data', (d) => (output = (output + d).slice(-20_000)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (api.exitCode !== null) throw new Error(`kube-apiserver exited ${api.exitCode}:\n${output.slice(-4000)}`);
      const ready = await call('GET', '/readyz').catch(() => null);
      if (ready?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`kube-apiserver not ready within 60 s:\n${output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  await start();

  const stopProcess = async (p: ChildProcess | null) => {
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };

  return {
    url,
    ca,
    adminToken,
    limitedToken,
    call,
    start,
    async stop() {
      await stopProcess(api);
    },
    logs: () => output,
    // etcd goes down with the test process; stop() only stops the apiserver so it can come back.
    [Symbol.asyncDispose]: async () => {
      await stopProcess(api);
      await stopProcess(etcd);
    },
  } as KubeApiServer & { [Symbol.asyncDispose](): Promise<void> };
}
