/**
 * `PUT /v1/txn` as Consul 1.8.7 answers it: at most 64 operations, all or nothing. Every op is
 * checked first against the state as the earlier ops of the same transaction leave it (an
 * overlay), failures are collected as `{OpIndex, What}` and answered 409 with nothing applied;
 * otherwise the writes are applied as one batch (one index, one storage transaction).
 * A transaction of reads only answers with the read fields (`Index`, `KnownLeader`, …) too.
 *
 * Implemented: KV (every verb), Node get, Service get/set/cas/delete/delete-cas, Check get.
 * Node and Check writes are refused per op, naming what is not supported (the embedded
 * registry has one node, and its checks are registered with /v1/agent/service/register).
 */
import { healthServiceJson, kvText, nodeJson, serfCheckJson, checkJson, type NodeInfo } from './consulShapes';
import type { KvRecord, ServiceRecord } from './registryRecords';
import type { RegistrationCheck, RegistryState } from './registryState';
import { SERF_CHECK } from './registryState';
import { canonicalKeys } from './registrySessions';

export const MAX_TXN_OPS = 64;

export class TxnBodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const KV_FIELDS = new Set(['Verb', 'Key', 'Value', 'Flags', 'Index', 'Session', 'Namespace']);
const OP_KINDS = new Set(['KV', 'Node', 'Service', 'Check']);
const KV_READS = new Set(['get', 'get-tree', 'check-index', 'check-session', 'check-not-exists']);

type Op = Record<string, Record<string, unknown> | undefined>;
interface Outcome {
  status: number;
  body: string;
}

type Write = () => string | null;

/** Decodes, checks and (when every op passes) applies a transaction. */
export function runTxn(raw: string, state: RegistryState, node: NodeInfo): Outcome {
  let ops: unknown;
  try {
    ops = JSON.parse(raw || 'null');
  } catch (err) {
    throw new TxnBodyError(400, `Failed to parse body: ${(err as Error).message.includes('Unexpected end') ? 'unexpected EOF' : goInvalid(raw)}`);
  }
  if (ops === null) ops = [];
  if (!Array.isArray(ops)) throw new TxnBodyError(400, `Failed to parse body: json: cannot unmarshal ${typeof ops === 'object' ? 'object' : typeof ops} into Go value of type api.TxnOps`);
  if (ops.length > MAX_TXN_OPS) throw new TxnBodyError(413, `Transaction contains too many operations (${ops.length} > ${MAX_TXN_OPS})`);
  // Go decodes keys case-insensitively.
  ops = (ops as unknown[]).map((op) => {
    if (op === null || typeof op !== 'object' || Array.isArray(op)) return op;
    const o = canonicalKeys(op as Record<string, unknown>, [...OP_KINDS]);
    for (const k of ['Node', 'Service', 'Check'] as const) {
      const inner = o[k];
      if (inner && typeof inner === 'object' && !Array.isArray(inner)) o[k] = canonicalKeys(inner as Record<string, unknown>, ['Verb', 'Node', 'Service', 'Check']);
    }
    if (o.KV && typeof o.KV === 'object' && !Array.isArray(o.KV)) o.KV = canonicalKeys(o.KV as Record<string, unknown>, [...KV_FIELDS]);
    return o;
  });
  for (const op of ops as unknown[]) {
    if (op === null || typeof op !== 'object' || Array.isArray(op)) throw new TxnBodyError(400, `Failed to parse body: json: cannot unmarshal ${Array.isArray(op) ? 'array' : typeof op} into Go value of type api.TxnOp`);
    for (const k of Object.keys(op)) if (!OP_KINDS.has(k)) throw new TxnBodyError(400, `Failed to parse body: json: unknown field ${JSON.stringify(k)}`);
    const kv = (op as Op).KV;
    if (kv) {
      for (const k of Object.keys(kv)) if (!KV_FIELDS.has(k)) throw new TxnBodyError(400, `Failed to parse body: json: unknown field ${JSON.stringify(k)}`);
      if (kv.Value !== undefined && kv.Value !== null && (typeof kv.Value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(kv.Value) || kv.Value.length % 4 !== 0)) {
        const bad = typeof kv.Value === 'string' ? Math.max(0, [...kv.Value].findIndex((c) => !/[A-Za-z0-9+/=]/.test(c))) : 0;
        throw new TxnBodyError(400, `Failed to parse body: illegal base64 data at input byte ${bad}`);
      }
    }
  }
  const list = ops as Op[];
  let writes = 0;
  for (const op of list) {
    if (op.KV && !KV_READS.has(String(op.KV.Verb))) writes++;
    for (const k of ['Node', 'Service', 'Check'] as const) if (op[k] && op[k]!.Verb !== 'get') writes++;
  }

  // ---- check every op against an overlay ----
  const kvOverlay = new Map<string, KvRecord | null>();
  const kvGet = (key: string): KvRecord | undefined => (kvOverlay.has(key) ? (kvOverlay.get(key) ?? undefined) : state.kv.get(key));
  const svcOverlay = new Map<string, ServiceRecord | null>();
  const svcGet = (id: string): ServiceRecord | undefined => (svcOverlay.has(id) ? (svcOverlay.get(id) ?? undefined) : state.services.get(id));
  const errors: { OpIndex: number; What: string }[] = [];
  /** Per op: renders its result after the writes (null: no result), or the write to apply. */
  const plan: { write?: Write; read?: () => string[] }[] = [];

  list.forEach((op, i) => {
    const fail = (what: string) => errors.push({ OpIndex: i, What: what });
    if (op.KV) {
      const kv = op.KV;
      const verb = String(kv.Verb ?? '');
      const key = typeof kv.Key === 'string' ? kv.Key : '';
      const value = typeof kv.Value === 'string' && kv.Value !== '' ? new Uint8Array(Buffer.from(kv.Value, 'base64')) : null;
      const flags = kv.Flags === undefined || kv.Flags === null ? '0' : String(kv.Flags);
      const index = typeof kv.Index === 'number' ? kv.Index : 0;
      const session = typeof kv.Session === 'string' ? kv.Session : '';
      const cur = kvGet(key);
      const isWrite = !KV_READS.has(verb);
      if (isWrite && key === '' && verb !== 'delete-tree') return fail('Must provide key');
      const put = (lockIndex: number, sess: string | null) => {
        const shadow: KvRecord = { Key: key, Value: value, Flags: flags, LockIndex: lockIndex, Session: sess, CreateIndex: cur?.CreateIndex ?? 0, ModifyIndex: 0 };
        kvOverlay.set(key, shadow);
        plan.push({ write: () => withoutValue(state.kvWrite(key, value, flags, lockIndex, sess)) });
      };
      switch (verb) {
        case 'set':
          return put(0, cur?.Session ?? null);
        case 'cas':
          if (index === 0 ? cur !== undefined : cur?.ModifyIndex !== index) return fail(`failed to set key ${JSON.stringify(key)}, index is stale`);
          return put(0, cur?.Session ?? null);
        case 'lock':
          if (!state.sessions.has(session)) return fail(`invalid session ${JSON.stringify(session)}`);
          if (state.lockDelayActive(key)) return fail(`failed to acquire lock on key ${JSON.stringify(key)}: lock delay is active`);
          if (cur?.Session && cur.Session !== session) return fail(`failed to lock key ${JSON.stringify(key)}, lock is already held`);
          return put(cur?.Session === session ? cur.LockIndex : (cur?.LockIndex ?? 0) + 1, session);
        case 'unlock':
          if (!cur || cur.Session !== session) return fail(`failed to unlock key ${JSON.stringify(key)}, lock isn't held, or is held by another session`);
          return put(cur.LockIndex, null);
        case 'get':
          if (!cur) return fail(`key ${JSON.stringify(key)} doesn't exist`);
          return plan.push({ read: () => [`{"KV":${kvText(state.kv.get(key) ?? cur)}}`] });
        case 'get-tree': {
          return plan.push({ read: () => state.kvList(key).map((r) => `{"KV":${kvText(r)}}`) });
        }
        case 'check-index':
          if (!cur) return fail(`key ${JSON.stringify(key)} doesn't exist`);
          if (cur.ModifyIndex !== index) return fail(`failed index check for key ${JSON.stringify(key)}, current modify index ${cur.ModifyIndex} != ${index}`);
          return plan.push({ read: () => [`{"KV":${withoutValue(state.kv.get(key) ?? cur)}}`] });
        case 'check-session':
          if (!cur) return fail(`key ${JSON.stringify(key)} doesn't exist`);
          if ((cur.Session ?? '') !== session) return fail(`failed session check for key ${JSON.stringify(key)}, current session ${JSON.stringify(cur.Session ?? '')} != ${JSON.stringify(session)}`);
          return plan.push({ read: () => [`{"KV":${withoutValue(state.kv.get(key) ?? cur)}}`] });
        case 'check-not-exists':
          if (cur) return fail(`key ${JSON.stringify(key)} exists`);
          return plan.push({});
        case 'delete':
          kvOverlay.set(key, null);
          return plan.push({ write: () => (state.kvDelete(key), null) });
        case 'delete-cas':
          if (!cur || cur.ModifyIndex !== index) return fail(`failed to delete key ${JSON.stringify(key)}, index is stale`);
          kvOverlay.set(key, null);
          return plan.push({ write: () => (state.kvDelete(key), null) });
        case 'delete-tree':
          for (const r of state.kvList(key)) kvOverlay.set(r.Key, null);
          for (const [k, v] of kvOverlay) if (v && k.startsWith(key)) kvOverlay.set(k, null);
          return plan.push({ write: () => (state.kvDelete(key, { recurse: true }), null) });
        default:
          return fail(`unknown KV verb ${JSON.stringify(verb)}`);
      }
    }
    if (op.Node) {
      const verb = String(op.Node.Verb ?? '');
      const name = String(((op.Node.Node ?? {}) as Record<string, unknown>).Node ?? '');
      if (verb !== 'get') return fail(`node ${verb || '(no verb)'} is not supported by the embedded registry: it has one node, ${JSON.stringify(node.name)}`);
      if (name !== node.name) return fail(`node ${JSON.stringify(name)} doesn't exist`);
      return plan.push({ read: () => [`{"Node":${JSON.stringify(nodeJson(node))}}`] });
    }
    if (op.Service) {
      const verb = String(op.Service.Verb ?? '');
      const nodeName = String(op.Service.Node ?? '');
      const svc = (op.Service.Service ?? {}) as Record<string, unknown>;
      const id = String(svc.ID ?? '') || String(svc.Service ?? '');
      if (nodeName !== node.name) return fail(verb === 'get' ? `service ${JSON.stringify(id)} on node ${JSON.stringify(nodeName)} doesn't exist` : 'Missing node registration');
      const cur = svcGet(id);
      if (verb === 'get') {
        if (!cur) return fail(`service ${JSON.stringify(id)} on node ${JSON.stringify(nodeName)} doesn't exist`);
        return plan.push({ read: () => [`{"Service":${serviceText(state.services.get(id) ?? cur)}}`] });
      }
      if (!['set', 'cas', 'delete', 'delete-cas'].includes(verb)) return fail(`unknown service verb ${JSON.stringify(verb)}`);
      if (typeof svc.Service !== 'string' || svc.Service === '') return fail('Must provide service name with ID');
      const modifyIndex = typeof svc.ModifyIndex === 'number' ? svc.ModifyIndex : 0;
      if (verb === 'cas' && (modifyIndex === 0 ? cur !== undefined : cur?.ModifyIndex !== modifyIndex)) return fail(`failed to set service ${JSON.stringify(id)} on node ${JSON.stringify(nodeName)}, index is stale`);
      if (verb === 'delete-cas' && (!cur || cur.ModifyIndex !== modifyIndex)) return fail(`failed to delete service ${JSON.stringify(id)} on node ${JSON.stringify(nodeName)}, index is stale`);
      if (verb === 'delete' || verb === 'delete-cas') {
        svcOverlay.set(id, null);
        return plan.push({ write: () => (state.deregisterService(id), null) });
      }
      const def: Omit<ServiceRecord, 'CreateIndex' | 'ModifyIndex'> = {
        ID: id,
        Service: svc.Service,
        Tags: Array.isArray(svc.Tags) ? (svc.Tags as string[]) : [],
        Address: typeof svc.Address === 'string' ? svc.Address : '',
        Port: typeof svc.Port === 'number' ? svc.Port : 0,
        Meta: svc.Meta && typeof svc.Meta === 'object' ? (svc.Meta as Record<string, string>) : {},
        Weights: (svc.Weights as ServiceRecord['Weights']) ?? { Passing: 1, Warning: 1 },
        EnableTagOverride: svc.EnableTagOverride === true,
      };
      svcOverlay.set(id, { ...def, CreateIndex: 0, ModifyIndex: 0 });
      return plan.push({
        write: () => {
          // A catalog write: the service changes, its checks stay as they are.
          const keep: RegistrationCheck[] = state.checksOfService(id).map((c) => ({ CheckID: c.CheckID, Name: c.Name, Notes: c.Notes, Status: c.Status, definition: c.definition }));
          state.registerService(def, keep);
          return serviceText(state.services.get(id)!);
        },
      });
    }
    if (op.Check) {
      const verb = String(op.Check.Verb ?? '');
      const chk = (op.Check.Check ?? {}) as Record<string, unknown>;
      const id = String(chk.CheckID ?? '');
      const nodeName = String(chk.Node ?? '');
      if (verb !== 'get') return fail(`check ${verb || '(no verb)'} is not supported by the embedded registry: register checks with /v1/agent/service/register`);
      if (nodeName !== node.name || (id !== SERF_CHECK && !state.checks.has(id))) return fail(`check ${JSON.stringify(id)} on node ${JSON.stringify(nodeName)} doesn't exist`);
      return plan.push({ read: () => [`{"Check":${JSON.stringify(id === SERF_CHECK ? serfCheckJson(node) : checkJson(node, state.checks.get(id)!, state.services))}}`] });
    }
    return plan.push({});
  });

  const readOnly = writes === 0;
  const tail = readOnly ? ',"Index":0,"LastContact":0,"KnownLeader":true,"ConsistencyLevel":""' : '';
  if (errors.length) return { status: 409, body: `{"Results":null,"Errors":${JSON.stringify(errors)}${tail}}` };
  const results: string[] = [];
  state.batch(() => {
    for (const p of plan) {
      if (p.write) {
        const r = p.write();
        if (r !== null) results.push(r.startsWith('{"LockIndex"') ? `{"KV":${r}}` : `{"Service":${r}}`);
      } else if (p.read) results.push(...p.read());
    }
  });
  return { status: 200, body: `{"Results":[${results.join(',')}],"Errors":null${tail}}` };
}

/** A write's or a check's KV result: the entry without its value, as Consul answers. */
function withoutValue(r: KvRecord): string {
  return kvText({ ...r, Value: null });
}

function serviceText(s: ServiceRecord): string {
  return JSON.stringify({ ...healthServiceJson(s), Tags: s.Tags.length ? s.Tags : null });
}

function goInvalid(raw: string): string {
  const t = raw.trim();
  const first = t[0] ?? '';
  if (first === '{' || first === '[') {
    const m = /^[{[]\s*(.)/.exec(t);
    if (first === '{' && m && m[1] !== '"' && m[1] !== '}') return `invalid character '${m[1]}' looking for beginning of object key string`;
  }
  return `invalid character '${first}' looking for beginning of value`;
}
