/**
 * `switchboard traffic get|set|flip|history|rollback <service> …` for pipelines: the control
 * plane's REST API with a Bearer token, human output by default (`--json` for machines), and
 * exit codes a CI script can branch on (see USAGE).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConflictBody, describeWeights, ErrorBody, RolloutConflictBody, RolloutView, TrafficHistory as History, TrafficView } from '../protocol/api';
import { Analysis, durationMs, formatDuration, isActive, type Rollout } from '../protocol/rollout';
import { ServiceSummary, servicePath } from '../protocol/model';

export const EXIT = { ok: 0, failed: 1, usage: 2, unauthorized: 3, conflict: 4, guardrail: 5, notFound: 6 } as const;

export const DEFAULT_SERVER = 'http://127.0.0.1:3000';
const DEFAULT_TIMEOUT_S = 30;

export const USAGE = `Usage: switchboard traffic <command> <service> [options]
       switchboard rollout <command> <service> [options]

Commands:
  get <service>                          show the split, subset health and last change
  set <service> <subset>=<weight> …      set weights (integers 0-100 summing to 100)
  flip <service>                         all weight to the subset without the majority
  history <service>                      the audit trail, newest first
  rollback <service> <entry-id>          restore the policy of an earlier history entry

Rollout commands (progressive delivery: canary steps with analysis):
  rollout start <service> --steps 5,25,50,100 [--pause 2m]
                                         start one; every step but the last holds --pause
                                         (without it a step waits for a promote)
  rollout status <service> [--watch]     state, step, time left, last analysis; --watch
                                         follows it until it ends (exit 0 promoted, 1 otherwise)
  rollout promote|pause|resume|abort <service>

<service> is a name (payment) or a full id (source/datacenter/name, e.g. prod/dc1/payment).
A name must match exactly one service; otherwise the candidates are listed.

Options:
  --server <url>     control plane URL (env SWITCHBOARD_URL, default ${DEFAULT_SERVER})
  --token <token>    API token (env SWITCHBOARD_TOKEN); changes need the operator role
  --reason <text>    why, for the audit trail (set, flip)
  --force            move weight onto a subset with no passing instance anyway (set, flip, rollback)
  --if-match <n>     only if the policy's modifyIndex is still n (set, flip)
  --json             print the API's JSON answer (on a conflict: the error and current policy)
  --timeout <s>      give up on the control plane after s seconds (default ${DEFAULT_TIMEOUT_S})
  --canary <subset>, --stable <subset>   rollout start: subsets (default: from the policy)
  --interval <d>, --min-requests <n>, --failure-limit <n>, --max-error-rate <0-1>,
  --max-p99 <ms>     rollout start: analysis (defaults: 30s, 50, 2, 0.01, 500)
  -h, --help         this text

Exit codes: 0 ok · 1 control plane unreachable or unexpected answer · 2 usage error or
invalid change (400) · 3 not signed in or not allowed (401/403) · 4 conflict, someone
else changed it first (409; the current policy is printed) · 5 refused by the guardrail (422)
· 6 service or entry not found (404)
`;

export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  fetch?: typeof fetch;
}

// Every REST shape comes from protocol/api.ts; the service list needs only ids and names.
const TopologyServices = z.object({ services: z.array(ServiceSummary.pick({ id: true, name: true })) });

type Command = 'get' | 'set' | 'flip' | 'history' | 'rollback';
const COMMANDS: Record<Command, { args: number | 'many'; options: string[] }> = {
  get: { args: 0, options: [] },
  set: { args: 'many', options: ['reason', 'force', 'if-match'] },
  flip: { args: 0, options: ['reason', 'force', 'if-match'] },
  history: { args: 0, options: [] },
  rollback: { args: 1, options: ['force'] },
};
const COMMAND_OPTIONS = ['reason', 'force', 'if-match'] as const;
const SUBSET_NAME = /^[a-z0-9][a-z0-9-]*$/;

class CliError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** The API's answer, printed to stdout with --json (a conflict's current policy). */
    readonly body?: unknown,
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
        force: { type: 'boolean' },
        'if-match': { type: 'string' },
        json: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        steps: { type: 'string' },
        pause: { type: 'string' },
        canary: { type: 'string' },
        stable: { type: 'string' },
        interval: { type: 'string' },
        'min-requests': { type: 'string' },
        'failure-limit': { type: 'string' },
        'max-error-rate': { type: 'string' },
        'max-p99': { type: 'string' },
        watch: { type: 'boolean' },
      },
    });
  } catch (err) {
    io.stderr(`switchboard: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE);
    return EXIT.ok;
  }
  if (positionals.length === 0) {
    io.stderr(USAGE);
    return EXIT.usage;
  }
  try {
    const [group, command, service, ...rest] = positionals;
    if (group === 'rollout') return await runRollout(command, service, rest, values, io);
    if (group !== 'traffic') throw new CliError(EXIT.usage, `unknown command "${group}" (try: switchboard traffic get <service>, switchboard rollout status <service>, or --help)`);
    for (const option of ROLLOUT_OPTIONS) if (values[option] !== undefined) throw new CliError(EXIT.usage, `--${option} applies to rollout commands only`);
    if (!command) throw new CliError(EXIT.usage, 'traffic: which command? use get, set, flip, history or rollback');
    if (!isCommand(command)) throw new CliError(EXIT.usage, `unknown traffic command "${command}": use get, set, flip, history or rollback`);
    if (!service) throw new CliError(EXIT.usage, `traffic ${command}: which service? e.g. switchboard traffic ${command} payment`);
    const spec = COMMANDS[command];
    if (typeof spec.args === 'number' && rest.length > spec.args) throw new CliError(EXIT.usage, `traffic ${command}: unexpected argument "${rest[spec.args]}"`);
    for (const option of COMMAND_OPTIONS) {
      if (values[option] !== undefined && !spec.options.includes(option)) throw new CliError(EXIT.usage, `--${option} does not apply to traffic ${command}`);
    }
    // Everything the command needs is checked before the first request.
    const weights = command === 'set' ? parseWeights(rest) : undefined;
    const entry = command === 'rollback' ? rest[0] : undefined;
    if (command === 'rollback' && !entry) throw new CliError(EXIT.usage, 'traffic rollback: which history entry? (ids from `switchboard traffic history`)');
    const ifMatch = parseIfMatch(values['if-match']);
    const timeoutS = parseTimeout(values.timeout);
    const server = parseServer(values.server ?? io.env.SWITCHBOARD_URL ?? DEFAULT_SERVER);
    const token = values.token ?? io.env.SWITCHBOARD_TOKEN ?? '';

    const api = new Api(server, token || null, io.fetch ?? fetch, timeoutS);
    const id = await api.resolve(service);
    const base = `/api/services/${servicePath(id)}/traffic`;
    const print = (raw: unknown, human: () => string) => io.stdout(values.json ? `${JSON.stringify(raw, null, 2)}\n` : human());
    const force = values.force ?? false;

    switch (command) {
      case 'get': {
        const { raw, value } = await api.call('GET', base, TrafficView);
        print(raw, () => describeView(id, value));
        return EXIT.ok;
      }
      case 'set': {
        const { raw, value } = await api.call('PUT', base, TrafficView, { weights, reason: values.reason ?? '', force }, ifMatch);
        print(raw, () => `${id}: ${describeWeights(value.policy)}\n`);
        return EXIT.ok;
      }
      case 'flip': {
        const { raw, value } = await api.call('POST', `${base}/flip`, TrafficView, { ...(values.reason ? { reason: values.reason } : {}), force }, ifMatch);
        print(raw, () => `${id}: flipped — ${describeWeights(value.policy)}\n`);
        return EXIT.ok;
      }
      case 'history': {
        const { raw, value } = await api.call('GET', `${base}/history`, History);
        print(raw, () => value.map((e) => `${e.id}  ${e.at}  ${e.by.padEnd(12)} ${e.outcome === 'rejected' ? 'REFUSED ' : e.forced ? 'FORCED ' : ''}${describeWeights(e.before)} → ${describeWeights(e.after)}  ${e.outcome === 'rejected' ? (e.error ?? '') : e.reason}\n`).join('') || 'no changes recorded\n');
        return EXIT.ok;
      }
      case 'rollback': {
        const { raw, value } = await api.call('POST', `${base}/rollback`, TrafficView, { id: entry, force });
        print(raw, () => `${id}: rolled back — ${describeWeights(value.policy)}\n`);
        return EXIT.ok;
      }
    }
  } catch (err) {
    if (err instanceof CliError) {
      if (values.json && err.body !== undefined) io.stdout(`${JSON.stringify(err.body, null, 2)}\n`);
      io.stderr(`switchboard: ${err.message}\n`);
      return err.code;
    }
    io.stderr(`switchboard: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failed;
  }
}

function isCommand(s: string): s is Command {
  return Object.hasOwn(COMMANDS, s);
}

function parseWeights(args: string[]): Record<string, number> {
  if (args.length === 0) throw new CliError(EXIT.usage, 'traffic set: give weights as <subset>=<weight>, e.g. blue=80 green=20');
  const weights: Record<string, number> = {};
  for (const w of args) {
    const m = /^([^=]+)=(\d{1,3})$/.exec(w);
    if (!m || Number(m[2]) > 100) throw new CliError(EXIT.usage, `weights: "${w}" is not <subset>=<integer 0-100>`);
    const name = m[1]!;
    if (!SUBSET_NAME.test(name)) throw new CliError(EXIT.usage, `weights: "${name}" in "${w}" is not a subset name (lowercase letters, digits and dashes)`);
    if (Object.hasOwn(weights, name)) throw new CliError(EXIT.usage, `weights: subset "${name}" is given twice`);
    weights[name] = Number(m[2]);
  }
  return weights;
}

function parseIfMatch(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw new CliError(EXIT.usage, `--if-match: "${raw}" is not a modifyIndex (a non-negative integer; see traffic get)`);
  return n;
}

function parseTimeout(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_TIMEOUT_S;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CliError(EXIT.usage, `--timeout: "${raw}" is not a positive number of seconds`);
  return n;
}

function parseServer(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(EXIT.usage, `server: "${raw}" is not a URL (e.g. ${DEFAULT_SERVER}; --server or SWITCHBOARD_URL)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(EXIT.usage, `server: "${raw}" must be an http:// or https:// URL`);
  return raw.replace(/\/+$/, '');
}

class Api {
  constructor(
    private readonly server: string,
    private readonly token: string | null,
    private readonly fetchFn: typeof fetch,
    private readonly timeoutS: number,
  ) {}

  /** A bare name is looked up in the topology; a full id is used as it is. */
  async resolve(service: string): Promise<string> {
    const parts = service.split('/');
    if (parts.length === 3 && parts.every((p) => p !== '')) return service;
    if (parts.length > 1) throw new CliError(EXIT.usage, `service: "${service}" is neither a name (payment) nor a full id (source/datacenter/name)`);
    const { value: topology } = await this.call('GET', '/api/topology?view=summary', TopologyServices);
    const matches = topology.services.filter((s) => s.name === service).map((s) => s.id);
    if (matches.length > 1) throw new CliError(EXIT.usage, `service: "${service}" is ambiguous; use one of: ${matches.sort().join(', ')}`);
    if (matches[0]) return matches[0];
    const lower = service.toLowerCase();
    const near = [...new Set(topology.services.map((s) => s.name).filter((n) => n.toLowerCase().includes(lower) || lower.includes(n.toLowerCase())))].sort();
    throw new CliError(EXIT.notFound, `service: no service named "${service}"${near.length ? ` (did you mean: ${near.join(', ')}?)` : ''}`);
  }

  async call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown, ifMatch?: number): Promise<{ raw: unknown; value: z.infer<S> }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (ifMatch !== undefined) headers['if-match'] = String(ifMatch);
    let status: number;
    let text: string;
    try {
      const res = await this.fetchFn(`${this.server}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutS * 1000) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new CliError(EXIT.failed, `no answer from ${this.server} within ${this.timeoutS}s (${method} ${path})`);
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new CliError(EXIT.failed, `cannot reach ${this.server}: ${cause}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError(EXIT.failed, `${method} ${path}: HTTP ${status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (status >= 200 && status < 300) {
      const parsed = schema.safeParse(json);
      if (!parsed.success) throw new CliError(EXIT.failed, `${method} ${path}: unexpected answer: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
      return { raw: json, value: parsed.data };
    }
    const error = ErrorBody.safeParse(json).data?.error ?? `HTTP ${status}`;
    switch (status) {
      case 400:
        throw new CliError(EXIT.usage, error);
      case 401:
        throw new CliError(EXIT.unauthorized, `${error}${this.token ? '' : ' (set SWITCHBOARD_TOKEN or pass --token)'}`);
      case 403:
        throw new CliError(EXIT.unauthorized, error);
      case 404:
        throw new CliError(EXIT.notFound, error);
      case 409: {
        const rollout = RolloutConflictBody.safeParse(json);
        if (rollout.success) {
          const r = rollout.data.current.rollout;
          throw new CliError(EXIT.conflict, `${error}; current rollout: ${r ? `${r.state}, step ${r.step}/${r.steps.length}, started by ${r.startedBy}` : 'none'} (modifyIndex ${rollout.data.current.modifyIndex})`, json);
        }
        const current = ConflictBody.safeParse(json).data?.current;
        const by = current?.policy ? ` (by ${current.policy.updatedBy}, modifyIndex ${current.modifyIndex})` : current ? ` (modifyIndex ${current.modifyIndex})` : '';
        throw new CliError(EXIT.conflict, `${error}; current policy: ${current ? describeWeights(current.policy) : 'not sent'}${by}`, json);
      }
      case 422:
        throw new CliError(EXIT.guardrail, error);
      default:
        throw new CliError(EXIT.failed, `${method} ${path}: HTTP ${status}: ${error}`);
    }
  }
}

// ── rollout ─────────────────────────────────────────────────────────────────────────────────

const ROLLOUT_OPTIONS = ['steps', 'pause', 'canary', 'stable', 'interval', 'min-requests', 'failure-limit', 'max-error-rate', 'max-p99', 'watch'] as const;
const ROLLOUT_COMMANDS = ['start', 'status', 'promote', 'pause', 'resume', 'abort'] as const;
type RolloutCommand = (typeof ROLLOUT_COMMANDS)[number];
type Values = Record<string, string | boolean | undefined>;

async function runRollout(command: string | undefined, service: string | undefined, rest: string[], values: Values, io: CliIo): Promise<number> {
  const list = ROLLOUT_COMMANDS.join(', ');
  if (!command) throw new CliError(EXIT.usage, `rollout: which command? use ${list}`);
  if (!(ROLLOUT_COMMANDS as readonly string[]).includes(command)) throw new CliError(EXIT.usage, `unknown rollout command "${command}": use ${list}`);
  const cmd = command as RolloutCommand;
  if (!service) throw new CliError(EXIT.usage, `rollout ${cmd}: which service? e.g. switchboard rollout ${cmd} payment`);
  if (rest.length) throw new CliError(EXIT.usage, `rollout ${cmd}: unexpected argument "${rest[0]}"`);
  for (const option of [...ROLLOUT_OPTIONS, 'force', 'if-match']) {
    if (values[option] === undefined) continue;
    const ok = option === 'if-match' ? cmd !== 'status' : option === 'watch' ? cmd === 'status' : option === 'force' ? false : cmd === 'start';
    if (!ok) throw new CliError(EXIT.usage, `--${option} does not apply to rollout ${cmd}`);
  }
  if (values.reason !== undefined && cmd === 'status') throw new CliError(EXIT.usage, '--reason does not apply to rollout status');
  const body = cmd === 'start' ? startBody(values) : undefined;
  const ifMatch = parseIfMatch(values['if-match'] as string | undefined);
  const timeoutS = parseTimeout(values.timeout as string | undefined);
  const server = parseServer((values.server as string | undefined) ?? io.env.SWITCHBOARD_URL ?? DEFAULT_SERVER);
  const token = (values.token as string | undefined) ?? io.env.SWITCHBOARD_TOKEN ?? '';
  const api = new Api(server, token || null, io.fetch ?? fetch, timeoutS);
  const id = await api.resolve(service);
  const base = `/api/services/${servicePath(id)}/rollout`;
  const print = (raw: unknown, human: () => string) => io.stdout(values.json ? `${JSON.stringify(raw, null, 2)}\n` : human());
  const reason = values.reason as string | undefined;
  switch (cmd) {
    case 'start': {
      const { raw, value } = await api.call('PUT', base, RolloutView, body, ifMatch);
      print(raw, () => describeRollout(id, value));
      return EXIT.ok;
    }
    case 'status': {
      let { raw, value } = await api.call('GET', base, RolloutView);
      if (!values.watch) {
        print(raw, () => describeRollout(id, value));
        return EXIT.ok;
      }
      // Follows the rollout until it ends: a line whenever something changes.
      let last = '';
      for (;;) {
        const line = values.json ? JSON.stringify(raw) : statusLine(id, value);
        if (line !== last) io.stdout(`${line}\n`);
        last = line;
        if (!isActive(value.rollout)) return value.rollout?.state === 'Promoted' ? EXIT.ok : EXIT.failed;
        await new Promise((r) => setTimeout(r, WATCH_MS));
        ({ raw, value } = await api.call('GET', base, RolloutView));
      }
    }
    case 'promote':
    case 'pause':
    case 'resume':
    case 'abort': {
      const { raw, value } = await api.call('POST', `${base}/${cmd}`, RolloutView, reason ? { reason } : {}, ifMatch);
      print(raw, () => describeRollout(id, value));
      return EXIT.ok;
    }
  }
}

/** How often `rollout status --watch` asks. */
export const WATCH_MS = 1_000;

function startBody(values: Values): Record<string, unknown> {
  const raw = values.steps as string | undefined;
  if (!raw) throw new CliError(EXIT.usage, 'rollout start: give the steps, e.g. --steps 5,25,50,100');
  const weights = raw.split(',').map((w) => w.trim());
  const steps = weights.map((w, i) => {
    if (!/^\d{1,3}$/.test(w) || Number(w) < 1 || Number(w) > 100) throw new CliError(EXIT.usage, `--steps: "${w}" is not a weight 1-100`);
    return { weight: Number(w), ...(values.pause && i < weights.length - 1 ? { pause: values.pause as string } : {}) };
  });
  if (values.pause !== undefined && durationMs(values.pause as string) === null) throw new CliError(EXIT.usage, `--pause: "${values.pause}" is not a duration such as 30s or 2m`);
  const number = (option: string, key: string) => {
    const v = values[option] as string | undefined;
    if (v === undefined) return {};
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new CliError(EXIT.usage, `--${option}: "${v}" is not a number`);
    return { [key]: n };
  };
  const analysis = { ...(values.interval ? { interval: values.interval } : {}), ...number('min-requests', 'minRequests'), ...number('failure-limit', 'failureLimit'), ...number('max-error-rate', 'maxErrorRate'), ...number('max-p99', 'maxP99Ms') };
  const checked = Analysis.safeParse(analysis);
  if (!checked.success) throw new CliError(EXIT.usage, checked.error.issues.map((i) => `analysis.${i.path.join('.')}: ${i.message}`).join('; '));
  return { steps, analysis, ...(values.canary ? { canary: values.canary } : {}), ...(values.stable ? { stable: values.stable } : {}), ...(values.reason ? { reason: values.reason } : {}) };
}

function statusLine(id: string, view: RolloutView): string {
  const r = view.rollout;
  if (!r) return `${id}: no rollout`;
  const left = timeLeftMs(r);
  return `${id}: ${r.state} step ${r.step}/${r.steps.length}, ${r.canary} ${view.canaryWeight ?? '?'}%${left !== null && isActive(r) ? `, ${formatDuration(left)} left` : ''}${r.message ? ` — ${r.message}` : ''}`;
}

function timeLeftMs(r: Rollout): number | null {
  const pause = r.steps[r.step - 1]?.pause;
  if (!pause) return null;
  const elapsed = r.state === 'Paused' ? (r.elapsedMs ?? 0) : Date.now() - Date.parse(r.since);
  return Math.max(0, durationMs(pause)! - elapsed);
}

function describeRollout(id: string, view: RolloutView): string {
  const r = view.rollout;
  if (!r) return `${id}: no rollout${view.invalid ? ` (${view.invalid})` : ''}\n`;
  const a = r.analysis;
  const steps = r.steps.map((s, i) => {
    const text = `${s.weight}%${s.pause ? ` ${s.pause}` : s.weight === 100 ? '' : ' (waits for promote)'}`;
    return i + 1 === r.step && isActive(r) ? `[${text}]` : text;
  });
  const m = r.measurements.at(-1);
  const side = (x: { requests: number; errorRate: number; p99Ms: number | null }) => `${x.requests} req, ${Math.round(x.errorRate * 1000) / 10} % errors, p99 ${x.p99Ms ?? '-'} ms`;
  const lines = [
    statusLine(id, view),
    `  ${r.stable} (stable) → ${r.canary} (canary): ${steps.join(' → ')}`,
    `  analysis every ${a.interval}: error rate ≤ ${a.maxErrorRate * 100} %${a.maxP99Ms !== null ? `, p99 ≤ ${a.maxP99Ms} ms` : ''}, at least ${a.minRequests} requests, fails after ${a.failureLimit}`,
    ...(m ? [`  last interval: canary ${side(m.canary)} · stable ${side(m.stable)} — ${m.ok === null ? 'inconclusive' : m.ok ? 'ok' : `FAILED: ${m.why}`}`] : []),
    `  started by ${r.startedBy}${r.reason ? ` — ${r.reason}` : ''} · controller: ${view.controller.mode}${view.controller.holder ? ` (${view.controller.holder})` : ''} · modifyIndex ${view.modifyIndex}`,
  ];
  return `${lines.join('\n')}\n`;
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
