/**
 * Sharing of what repeats across the informer caches' objects (kubernetesCompact.ts). JSON.parse
 * gives every string of 10 characters or more its own copy, and every object its own
 * allocation: 150,000 pods of a few hundred Deployments carry a few hundred distinct label sets,
 * a few hundred node names and a handful of zones and namespaces.
 * - Strings: a bounded table (two generations of at most `max` entries each; when the current
 *   one fills, the previous one is dropped). A string that stops recurring is forgotten after at
 *   most two generations; a burst of unique strings costs at most 2 × `max` entries and only
 *   loses sharing, never correctness (interning returns an equal string).
 * - Label sets: content-addressed, frozen, held weakly (WeakRef) and removed from the table by a
 *   FinalizationRegistry once no cached object uses them, so label sets that change over time
 *   (a rollout's new pod-template-hash) do not accumulate.
 * - Small value objects (an endpoint's conditions, a slice's port) from a fixed set of frozen ones.
 * Everything shared is frozen: a reader that tried to mutate one would throw (ES modules are strict).
 */

/** Strings longer than this are not interned (label values are ≤ 63, node names ≤ 253). */
const MAX_INTERNED_LENGTH = 256;

export class StringInterner {
  private current = new Map<string, string>();
  private previous = new Map<string, string>();

  constructor(private readonly max = 1 << 16) {}

  intern<T>(value: T): T {
    if (typeof value !== 'string' || value.length > MAX_INTERNED_LENGTH) return value;
    const hit = this.current.get(value);
    if (hit !== undefined) return hit as T;
    const shared = this.previous.get(value) ?? value;
    if (this.current.size >= this.max) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(shared, shared);
    return shared as T;
  }

  /** Entries held (both generations). */
  get size(): number {
    return this.current.size + this.previous.size;
  }
}

export type Labels = Readonly<Record<string, string>>;

export const EMPTY_LABELS: Labels = Object.freeze({});

/** 53-bit string hash (cyrb53): a fingerprint of a text, 8 bytes instead of a copy. */
export function hash53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * Frozen label sets shared by content. Keyed by a hash of the sorted entries (no key string is
 * kept: a table entry costs a number, a WeakRef and a registry cell), compared by content on a
 * hit, so a hash collision only costs a second entry in the bucket.
 */
export class LabelSetInterner {
  private readonly table = new Map<number, WeakRef<Labels> | WeakRef<Labels>[]>();
  private readonly registry = new FinalizationRegistry<number>((h) => this.sweep(h));

  constructor(private readonly strings: StringInterner) {}

  /**
   * The shared frozen set with the same entries as `labels`. Anything but a plain object (a
   * malformed upstream's string or array) is returned as it is: its readers see what they saw.
   */
  intern(labels: unknown): unknown {
    if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) return labels;
    const entries = Object.entries(labels as Record<string, unknown>);
    if (entries.length === 0) return EMPTY_LABELS;
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const h = hash53(JSON.stringify(entries));
    const bucket = this.table.get(h);
    if (bucket !== undefined) {
      for (const ref of Array.isArray(bucket) ? bucket : [bucket]) {
        const candidate = ref.deref();
        if (candidate !== undefined && sameEntries(candidate, entries)) return candidate;
      }
    }
    for (const e of entries) e[1] = this.strings.intern(e[1]);
    const set: Labels = Object.freeze(Object.fromEntries(entries) as Record<string, string>);
    const ref = new WeakRef(set);
    if (bucket === undefined) this.table.set(h, ref);
    else if (Array.isArray(bucket)) bucket.push(ref);
    else this.table.set(h, [bucket, ref]);
    this.registry.register(set, h);
    return set;
  }

  /** Distinct label sets in the table (live, or dead and not yet swept). */
  get size(): number {
    let n = 0;
    for (const b of this.table.values()) n += Array.isArray(b) ? b.length : 1;
    return n;
  }

  private sweep(h: number): void {
    const bucket = this.table.get(h);
    if (bucket === undefined) return;
    if (!Array.isArray(bucket)) {
      if (bucket.deref() === undefined) this.table.delete(h);
      return;
    }
    const live = bucket.filter((r) => r.deref() !== undefined);
    if (live.length === 0) this.table.delete(h);
    else this.table.set(h, live.length === 1 ? live[0]! : live);
  }
}

function sameEntries(set: Labels, entries: [string, unknown][]): boolean {
  const keys = Object.keys(set);
  if (keys.length !== entries.length) return false;
  for (const [k, v] of entries) if (!Object.hasOwn(set, k) || set[k] !== v) return false;
  return true;
}

/** An EndpointSlice endpoint's conditions, nil fields resolved (registry-semantics.md C2). */
export interface Conditions {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

const CONDITIONS: readonly Conditions[] = Array.from({ length: 8 }, (_, i) => Object.freeze({ ready: (i & 1) !== 0, serving: (i & 2) !== 0, terminating: (i & 4) !== 0 }));

/**
 * One of 8 frozen condition objects with what a reader of `conditions` gets from these (`ready`
 * nil → true, `terminating` nil → false, `serving` nil → `ready`), or undefined when a field is
 * neither a boolean nor nil (a malformed upstream: the caller keeps the fields as they are).
 */
export function sharedConditions(c: { ready?: unknown; serving?: unknown; terminating?: unknown } | null | undefined): Conditions | undefined {
  const ready = c?.ready ?? true;
  const terminating = c?.terminating ?? false;
  const serving = c?.serving ?? ready;
  if (typeof ready !== 'boolean' || typeof serving !== 'boolean' || typeof terminating !== 'boolean') return undefined;
  return CONDITIONS[(ready ? 1 : 0) | (serving ? 2 : 0) | (terminating ? 4 : 0)];
}

const PORTS = new Map<number, readonly { readonly port: number }[]>();

/** A frozen `[{ port }]`, one per port number (a valid port: at most 65,536 of them). */
export function sharedPorts(port: number): readonly { readonly port: number }[] | undefined {
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  let ports = PORTS.get(port);
  if (!ports) PORTS.set(port, (ports = Object.freeze([Object.freeze({ port })])));
  return ports;
}

export const EMPTY_ARRAY: readonly never[] = Object.freeze([]);
