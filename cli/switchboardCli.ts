/**
 * `switchboard traffic get|set|flip|history|rollback <service> …` for pipelines: the control
 * plane's REST API with a Bearer token, human output by default (`--json` for machines), and
 * exit codes a CI script can branch on (see USAGE).
 */
import { parseArgs } from 'node:util';

export const EXIT = { ok: 0, failed: 1, usage: 2, unauthorized: 3, conflict: 4, guardrail: 5, notFound: 6 } as const;

export const USAGE = `Usage: switchboard traffic <command> <service> [options]

Commands:
  get <service>                          show the split, subset health and last change
  set <service> <subset>=<weight> …      set weights (integers summing to 100)
  flip <service>                         all weight to the subset without the majority
  history <service>                      the audit trail, newest first
  rollback <service> <entry-id>          restore the policy of an earlier history entry

<service> is a name (payment) or a full id (source/datacenter/name, e.g. prod/dc1/payment).

Options:
  --server <url>     control plane URL (env SWITCHBOARD_URL, default http://127.0.0.1:3000)
  --token <token>    API token (env SWITCHBOARD_TOKEN); changes need the operator role
  --reason <text>    why, for the audit trail (set, flip)
  --force            move weight onto a subset with no passing instance anyway
  --if-match <n>     only if the policy's modifyIndex is still n (set)
  --json             print the API's JSON answer

Exit codes: 0 ok · 1 control plane unreachable or unexpected answer · 2 usage error or
invalid change (400) · 3 not signed in or not allowed (401/403) · 4 conflict, someone
else changed it first (409) · 5 refused by the guardrail (422) · 6 service or entry not found (404)
`;

export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  fetch?: typeof fetch;
}

interface Policy {
  subsets: Record<string, { tags: string[] }>;
  weights: Record<string, number>;
  drain: string[];
  updatedAt: string;
  updatedBy: string;
  reason: string;
}
interface TrafficView {
  policy: Policy | null;
  modifyIndex: number;
  subsets: Record<string, { instances: number; passing: number }>;
}
interface AuditEntry {
  id: string;
  at: string;
  by: string;
  reason: string;
  outcome?: string;
  error?: string;
  before: Policy | null;
  after: Policy | null;
}

class CliError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        server: { type: 'string' },
        token: { type: 'string' },
        reason: { type: 'string' },
        force: { type: 'boolean', default: false },
        'if-match': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    io.stderr(`switchboard: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? io.stdout : io.stderr)(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  try {
    const [group, command, service, ...rest] = positionals;
    if (group !== 'traffic') throw new CliError(EXIT.usage, `unknown command "${group}" (try: switchboard traffic get <service>)`);
    if (!command || !['get', 'set', 'flip', 'history', 'rollback'].includes(command)) throw new CliError(EXIT.usage, `unknown traffic command "${command ?? ''}": use get, set, flip, history or rollback`);
    if (!service) throw new CliError(EXIT.usage, `traffic ${command}: which service? e.g. switchboard traffic ${command} payment`);
    const api = new Api((values.server ?? io.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''), values.token ?? io.env.SWITCHBOARD_TOKEN ?? null, io.fetch ?? fetch);
    const id = await api.resolve(service);
    const base = `/api/services/${id.split('/').map(encodeURIComponent).join('/')}/traffic`;
    const print = (value: unknown, human: () => string) => io.stdout(values.json ? `${JSON.stringify(value, null, 2)}\n` : human());

    switch (command) {
      case 'get': {
        const view = await api.call<TrafficView>('GET', base);
        print(view, () => describeView(id, view));
        return EXIT.ok;
      }
      case 'set': {
        if (rest.length === 0) throw new CliError(EXIT.usage, 'traffic set: give weights as <subset>=<weight>, e.g. blue=80 green=20');
        const weights: Record<string, number> = {};
        for (const w of rest) {
          const m = /^([a-z0-9][a-z0-9-]*)=(\d{1,3})$/.exec(w);
          if (!m) throw new CliError(EXIT.usage, `weights: "${w}" is not <subset>=<integer 0-100>`);
          weights[m[1]!] = Number(m[2]);
        }
        let ifMatch: number | undefined;
        if (values['if-match'] !== undefined) {
          ifMatch = Number(values['if-match']);
          if (!Number.isInteger(ifMatch) || ifMatch < 0) throw new CliError(EXIT.usage, `--if-match: "${values['if-match']}" is not a modifyIndex (a non-negative integer)`);
        }
        const view = await api.call<TrafficView>('PUT', base, { weights, reason: values.reason ?? '', force: values.force }, ifMatch);
        print(view, () => `${id}: ${describeWeights(view.policy)}\n`);
        return EXIT.ok;
      }
      case 'flip': {
        const view = await api.call<TrafficView>('POST', `${base}/flip`, { ...(values.reason ? { reason: values.reason } : {}), force: values.force });
        print(view, () => `${id}: flipped — ${describeWeights(view.policy)}\n`);
        return EXIT.ok;
      }
      case 'history': {
        const entries = await api.call<AuditEntry[]>('GET', `${base}/history`);
        print(entries, () => entries.map((e) => `${e.id}  ${e.at}  ${e.by.padEnd(12)} ${e.outcome === 'rejected' ? 'REFUSED ' : ''}${describeWeights(e.before)} → ${describeWeights(e.after)}  ${e.outcome === 'rejected' ? (e.error ?? '') : e.reason}\n`).join('') || 'no changes recorded\n');
        return EXIT.ok;
      }
      case 'rollback': {
        const entry = rest[0];
        if (!entry) throw new CliError(EXIT.usage, 'traffic rollback: which history entry? (ids from `switchboard traffic history`)');
        const view = await api.call<TrafficView>('POST', `${base}/rollback`, { id: entry, force: values.force });
        print(view, () => `${id}: rolled back — ${describeWeights(view.policy)}\n`);
        return EXIT.ok;
      }
    }
    return EXIT.usage;
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`switchboard: ${err.message}\n`);
      return err.code;
    }
    throw err;
  }
}

class Api {
  constructor(
    private readonly server: string,
    private readonly token: string | null,
    private readonly fetchFn: typeof fetch,
  ) {}

  /** A bare name is looked up in the topology; a full id is used as it is. */
  async resolve(service: string): Promise<string> {
    if (service.split('/').length === 3) return service;
    const topology = await this.call<{ services: { id: string; name: string }[] }>('GET', '/api/topology');
    const matches = topology.services.filter((s) => s.name === service).map((s) => s.id);
    if (matches.length === 0) throw new CliError(EXIT.notFound, `no service named "${service}"`);
    if (matches.length > 1) throw new CliError(EXIT.usage, `"${service}" is ambiguous; use one of: ${matches.join(', ')}`);
    return matches[0]!;
  }

  async call<T>(method: string, path: string, body?: unknown, ifMatch?: number): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (ifMatch !== undefined) headers['if-match'] = String(ifMatch);
    let res: Response;
    try {
      res = await this.fetchFn(`${this.server}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new CliError(EXIT.failed, `cannot reach ${this.server}: ${cause}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError(EXIT.failed, `${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (res.ok) return json as T;
    const error = (json as { error?: string }).error ?? `HTTP ${res.status}`;
    switch (res.status) {
      case 400:
        throw new CliError(EXIT.usage, error);
      case 401:
        throw new CliError(EXIT.unauthorized, `${error}${this.token ? '' : ' (set SWITCHBOARD_TOKEN or pass --token)'}`);
      case 403:
        throw new CliError(EXIT.unauthorized, error);
      case 404:
        throw new CliError(EXIT.notFound, error);
      case 409: {
        const current = (json as { current?: { policy: Policy | null; modifyIndex: number } }).current;
        throw new CliError(EXIT.conflict, `${error}; current policy: ${describeWeights(current?.policy ?? null)}${current?.policy ? ` (by ${current.policy.updatedBy}, modifyIndex ${current.modifyIndex})` : ''}`);
      }
      case 422:
        throw new CliError(EXIT.guardrail, `${error}`);
      default:
        throw new CliError(EXIT.failed, `${method} ${path}: HTTP ${res.status}: ${error}`);
    }
  }
}

function describeWeights(policy: Pick<Policy, 'weights' | 'drain'> | null): string {
  if (!policy) return 'no policy';
  const split = Object.entries(policy.weights).map(([n, w]) => `${n} ${w}%`).join(' / ');
  return policy.drain?.length ? `${split}, draining ${policy.drain.join(', ')}` : split;
}

function describeView(id: string, view: TrafficView): string {
  if (!view.policy) return `${id}: no traffic policy (clients spread over every passing instance)\n`;
  const p = view.policy;
  const lines = [`${id}: ${describeWeights(p)}`];
  for (const [name, subset] of Object.entries(p.subsets)) {
    const h = view.subsets[name];
    lines.push(`  ${name.padEnd(12)} ${String(p.weights[name] ?? 0).padStart(3)}%  tags ${subset.tags.join(',')}${h ? `  ${h.passing}/${h.instances} passing` : ''}`);
  }
  lines.push(`  last change: ${p.updatedAt} by ${p.updatedBy}${p.reason ? ` — ${p.reason}` : ''} (modifyIndex ${view.modifyIndex})`);
  return `${lines.join('\n')}\n`;
}
