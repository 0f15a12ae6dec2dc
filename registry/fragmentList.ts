/**
 * An ordered list of keyed JSON fragments whose encoded body is rebuilt in O(what changed):
 * keys live in fixed blocks (in the order they were added), each block keeps its encoded bytes
 * until one of its fragments changes, and the body is the list of the blocks' buffers, written
 * to the socket as they are (no copy into a fresh body: on this VM a first touch of fresh pages
 * costs ~3 ms per MiB). A check flip in a 150,000-check list re-encodes one block of 128
 * fragments, not 150,000.
 *
 * Blocks are small on purpose: a block's text and bytes must stay below V8's large-object size
 * and glibc's mmap threshold (both 128 KiB), or every re-encode allocates (and faults in) fresh
 * pages. At 256 fragments a /internal/ui/services block (≈540 bytes a service at 15 instances)
 * was 140 KiB and re-encoding it took 1.3 ms; at 128 (70 KiB) it takes 0.1 ms. A block whose
 * fragments are larger than that is cut into pieces of at most PIECE_CHARS characters. Smaller
 * blocks would cost more than they save: every chunk is one `res.write` (≈3 µs).
 *
 * Each block's bytes start with the comma that separates it from the block before, so a body is
 * one chunk per block (the first block's chunk is a view without that comma).
 *
 * `encodeFiltered` serves lists that only show the fragments a predicate keeps (`?filter=`): it
 * caches, per caller, each block's filtered bytes with the block's version, so after a change it
 * evaluates the predicate on the changed block's keys only.
 */
const PIECE_CHARS = 96 * 1024;

interface Block {
  keys: Set<string>;
  /** Keys ever added (new keys go to the last block until it has had `size`). */
  filled: number;
  /** Encoded `,fragment,fragment…`, in pieces; null when a fragment changed since. */
  bytes: Buffer[] | null;
  /** Moves whenever a key of the block is added, removed or changed. */
  version: number;
}

/** A caller's cached filtered encoding of each block (see `encodeFiltered`). */
export type FilteredBlocks = WeakMap<object, { version: number; bytes: Buffer[] }>;

export class FragmentList {
  private readonly blockOf = new Map<string, Block>();
  private blocks: Block[] = [];
  private readonly text = new Map<string, string>();

  constructor(private readonly blockSize = 128) {}

  /** The cached fragment of `key`, if rendered since it last changed. */
  get(key: string): string | undefined {
    return this.text.get(key);
  }

  set(key: string, fragment: string): void {
    this.text.set(key, fragment);
  }

  /** `key`'s fragment changed: drop it and its block's bytes. */
  delete(key: string): void {
    this.text.delete(key);
    const b = this.blockOf.get(key);
    if (b) this.dirty(b);
  }

  /** Appends `key` to the list (no-op if present). */
  add(key: string): void {
    if (this.blockOf.has(key)) return;
    let b = this.blocks.at(-1);
    if (!b || b.filled >= this.blockSize) this.blocks.push((b = { keys: new Set(), filled: 0, bytes: null, version: 0 }));
    b.keys.add(key);
    b.filled++;
    this.dirty(b);
    this.blockOf.set(key, b);
  }

  /** Removes `key` from the list. */
  remove(key: string): void {
    this.text.delete(key);
    const b = this.blockOf.get(key);
    if (!b) return;
    this.blockOf.delete(key);
    b.keys.delete(key);
    this.dirty(b);
    if (b.keys.size === 0 && b.filled >= this.blockSize) this.blocks = this.blocks.filter((x) => x !== b);
  }

  get size(): number {
    return this.blockOf.size;
  }

  private dirty(b: Block): void {
    b.bytes = null;
    b.version++;
  }

  private fragment(key: string, render: (key: string) => string): string {
    let s = this.text.get(key);
    if (s === undefined) this.text.set(key, (s = render(key)));
    return s;
  }

  /** `,fragment` for each key, as pieces of at most PIECE_CHARS characters. */
  private encodeKeys(keys: Iterable<string>, render: (key: string) => string): Buffer[] {
    const pieces: Buffer[] = [];
    let text = '';
    for (const k of keys) {
      const s = this.fragment(k, render);
      if (text && text.length + s.length >= PIECE_CHARS) {
        pieces.push(Buffer.from(text));
        text = '';
      }
      text += `,${s}`;
    }
    if (text) pieces.push(Buffer.from(text));
    return pieces;
  }

  /**
   * `open` + the fragments joined with commas + `close`, as chunks; renders the missing fragments
   * with `render`. `continues`: `open` ends with an element, so the first fragment gets a comma too.
   */
  encode(open: string, close: string, render: (key: string) => string, continues = false): Buffer[] {
    const parts: Buffer[] = [Buffer.from(open)];
    for (const b of this.blocks) {
      if (b.keys.size === 0) continue;
      b.bytes ??= this.encodeKeys(b.keys, render);
      pushPieces(parts, b.bytes, continues);
    }
    parts.push(Buffer.from(close));
    return parts;
  }

  /**
   * Like `encode`, but only the keys `keep` accepts. `cache` holds this caller's filtered bytes
   * per block; a block unchanged since the caller's last call is not filtered again. `keep` must
   * depend on nothing but the key's record (whose change `delete`s the key).
   */
  encodeFiltered(open: string, close: string, cache: FilteredBlocks, keep: (key: string) => boolean, render: (key: string) => string, continues = false): Buffer[] {
    const parts: Buffer[] = [Buffer.from(open)];
    for (const b of this.blocks) {
      if (b.keys.size === 0) continue;
      let hit = cache.get(b);
      if (hit?.version !== b.version) {
        const kept: string[] = [];
        for (const k of b.keys) if (keep(k)) kept.push(k);
        hit = { version: b.version, bytes: this.encodeKeys(kept, render) };
        cache.set(b, hit);
      }
      pushPieces(parts, hit.bytes, continues);
    }
    parts.push(Buffer.from(close));
    return parts;
  }
}

/** Appends a block's pieces after `open` (parts[0]); the body's first fragment goes without its leading comma unless `open` continues. */
function pushPieces(parts: Buffer[], pieces: Buffer[], continues: boolean): void {
  for (const p of pieces) parts.push(parts.length === 1 && !continues ? p.subarray(1) : p);
}
