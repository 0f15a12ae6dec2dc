/**
 * Compact instances: the fleet repeats the same tag lists, meta maps, node names and check
 * lists thousands of times, and JSON parsing gives every instance its own copies. The store
 * keeps one shared, frozen copy of each such value instead.
 *
 * Only what repeats is kept: meta values and whole check lists go through tables that stop
 * taking new entries while they are not being hit (a Kubernetes instance's meta names its pod,
 * a Consul check id names its service instance: unique, nothing to share). The tables start over
 * when they grow past `maxEntries`, so a registry that invents new values forever cannot grow
 * them without bound.
 */
import type { Check, Instance } from '../../protocol/model';

const EMPTY_TAGS: readonly string[] = Object.freeze([]);
const EMPTY_META: Readonly<Record<string, string>> = Object.freeze({});
/** Distinct meta keys whose values get a table of their own; values of further keys are not shared. */
const MAX_META_KEYS = 256;

/**
 * A table of shared values that only grows while sharing pays: past `trial` entries, a new
 * value is kept only while lookups have found an existing one at least as often as values were added.
 */
export class SharingTable<T> {
  private readonly map = new Map<string, T>();
  private hits = 0;
  private adds = 0;

  constructor(private readonly trial = 1000) {}

  get size(): number {
    return this.map.size;
  }

  /** The shared value for `key`, or `make()`'s (kept for the next lookup if sharing pays). */
  get(key: string, make: () => T): T {
    const found = this.map.get(key);
    if (found !== undefined) {
      this.hits++;
      return found;
    }
    const value = make();
    if (this.map.size < this.trial || this.hits >= this.adds) {
      this.map.set(key, value);
      this.adds++;
    }
    return value;
  }
}

export class InstanceInterner {
  private strings = new SharingTable<string>();
  private addresses = new SharingTable<string>();
  private tagLists = new SharingTable<readonly string[]>();
  private metas = new SharingTable<Readonly<Record<string, string>>>();
  private metaValues = new Map<string, SharingTable<string>>();
  private checkLists = new SharingTable<readonly Check[]>();

  constructor(private readonly maxEntries = 200_000) {}

  get size(): number {
    let values = 0;
    for (const t of this.metaValues.values()) values += t.size;
    return this.strings.size + this.addresses.size + this.tagLists.size + this.metas.size + values + this.checkLists.size;
  }

  instance(i: Instance): Instance {
    if (this.size > this.maxEntries) this.reset();
    const out: Instance = {
      id: i.id,
      // One address per node on Consul (shared), one per pod on Kubernetes (not): a table of its own.
      address: this.addresses.get(i.address, () => i.address),
      port: i.port,
      tags: this.tags(i.tags) as string[],
      meta: this.meta(i.meta) as Record<string, string>,
      node: i.node === null ? null : this.string(i.node),
      health: i.health,
      checks: this.checks(i.checks) as Check[],
    };
    if (i.breaker) out.breaker = i.breaker;
    return out;
  }

  tags(tags: readonly string[]): readonly string[] {
    if (tags.length === 0) return EMPTY_TAGS;
    return this.tagLists.get(tags.join('\u0000'), () => Object.freeze(tags.map((t) => this.string(t))));
  }

  private meta(meta: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
    const keys = Object.keys(meta);
    if (keys.length === 0) return EMPTY_META;
    // fromEntries defines own properties, so a key such as "__proto__" stays plain data.
    return this.metas.get(JSON.stringify(meta), () => Object.freeze(Object.fromEntries(keys.map((k) => [this.string(k), this.metaValue(k, meta[k]!)]))));
  }

  /** One table per meta key: a key whose values never repeat (a pod name) stops filling its table, the others keep sharing. */
  private metaValue(key: string, value: string): string {
    let table = this.metaValues.get(key);
    if (!table) {
      if (this.metaValues.size >= MAX_META_KEYS) return value;
      this.metaValues.set(key, (table = new SharingTable()));
    }
    return table.get(value, () => value);
  }

  private checks(checks: readonly Check[]): readonly Check[] {
    let key = '';
    for (const c of checks) key += `${c.id}\u0001${c.name}\u0001${c.status}\u0001${c.type}\u0001${c.nodeLevel ? 1 : 0}\u0001${c.output}\u0002`;
    return this.checkLists.get(key, () => Object.freeze(checks.map((c) => this.check(c))));
  }

  private check(c: Check): Check {
    return Object.freeze({ id: c.id, name: this.string(c.name), status: c.status, output: c.output, type: this.string(c.type), nodeLevel: c.nodeLevel });
  }

  private string(s: string): string {
    return this.strings.get(s, () => s);
  }

  private reset(): void {
    this.strings = new SharingTable();
    this.addresses = new SharingTable();
    this.tagLists = new SharingTable();
    this.metas = new SharingTable();
    this.metaValues = new Map();
    this.checkLists = new SharingTable();
  }
}

/** Structural equality of two instances (faster than comparing serializations, and order-exact). */
export function sameInstance(a: Instance, b: Instance): boolean {
  if (a === b) return true;
  if (a.id !== b.id || a.address !== b.address || a.port !== b.port || a.node !== b.node || a.health !== b.health) return false;
  if (!sameStrings(a.tags, b.tags) || !sameMeta(a.meta, b.meta)) return false;
  if (a.checks.length !== b.checks.length) return false;
  for (let k = 0; k < a.checks.length; k++) {
    const x = a.checks[k]!;
    const y = b.checks[k]!;
    if (x.id !== y.id || x.status !== y.status || x.output !== y.output || x.name !== y.name || x.type !== y.type || x.nodeLevel !== y.nodeLevel) return false;
  }
  const p = a.breaker;
  const q = b.breaker;
  if (!p || !q) return p === q;
  return p.state === q.state && p.clients === q.clients && p.open === q.open && p.halfOpen === q.halfOpen;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

function sameMeta(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
