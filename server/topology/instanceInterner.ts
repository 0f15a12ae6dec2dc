/**
 * Compact instances: the fleet repeats the same tag lists, meta maps, node names and check
 * names thousands of times, and JSON parsing gives every instance its own copies. The store
 * keeps one shared, frozen copy of each such value instead.
 *
 * Only low-cardinality fields are interned (check output and ids are not: they are unique or
 * churn), and the tables start over when they grow past `maxEntries`, so a registry that
 * invents new values forever cannot grow them without bound.
 */
import type { Check, Instance } from '../../protocol/model';

const EMPTY_TAGS: readonly string[] = Object.freeze([]);
const EMPTY_META: Readonly<Record<string, string>> = Object.freeze({});

export class InstanceInterner {
  private strings = new Map<string, string>();
  private tagLists = new Map<string, readonly string[]>();
  private metas = new Map<string, Readonly<Record<string, string>>>();

  constructor(private readonly maxEntries = 200_000) {}

  get size(): number {
    return this.strings.size + this.tagLists.size + this.metas.size;
  }

  instance(i: Instance): Instance {
    if (this.size > this.maxEntries) this.reset();
    const out: Instance = {
      id: i.id,
      address: this.string(i.address),
      port: i.port,
      tags: this.tags(i.tags) as string[],
      meta: this.meta(i.meta) as Record<string, string>,
      node: i.node === null ? null : this.string(i.node),
      health: i.health,
      checks: i.checks.map((c) => this.check(c)),
    };
    if (i.breaker) out.breaker = i.breaker;
    return out;
  }

  tags(tags: readonly string[]): readonly string[] {
    if (tags.length === 0) return EMPTY_TAGS;
    const key = tags.join('\u0000');
    let shared = this.tagLists.get(key);
    if (!shared) {
      shared = Object.freeze(tags.map((t) => this.string(t)));
      this.tagLists.set(key, shared);
    }
    return shared;
  }

  private meta(meta: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
    const keys = Object.keys(meta);
    if (keys.length === 0) return EMPTY_META;
    const key = JSON.stringify(meta);
    let shared = this.metas.get(key);
    if (!shared) {
      // fromEntries defines own properties, so a key such as "__proto__" stays plain data.
      shared = Object.freeze(Object.fromEntries(keys.map((k) => [this.string(k), this.string(meta[k]!)])));
      this.metas.set(key, shared);
    }
    return shared;
  }

  private check(c: Check): Check {
    return { id: c.id, name: this.string(c.name), status: c.status, output: c.output, type: this.string(c.type), nodeLevel: c.nodeLevel };
  }

  private string(s: string): string {
    const shared = this.strings.get(s);
    if (shared !== undefined) return shared;
    this.strings.set(s, s);
    return s;
  }

  private reset(): void {
    this.strings = new Map();
    this.tagLists = new Map();
    this.metas = new Map();
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
