/**
 * An ordered list of keyed JSON fragments whose encoded body is rebuilt in O(what changed):
 * keys live in fixed blocks (in the order they were added), each block keeps its encoded bytes
 * until one of its fragments changes, and the body is the list of the blocks' buffers, written
 * to the socket as they are (no copy into a fresh body: on this VM a first touch of fresh pages
 * costs ~3 ms per MiB). A check flip in a 150,000-check list re-encodes one block of 256
 * fragments, not 150,000.
 */
const COMMA = Buffer.from(',');

interface Block {
  keys: Set<string>;
  /** Keys ever added (new keys go to the last block until it has had `size`). */
  filled: number;
  bytes: Buffer | null;
}

export class FragmentList {
  private readonly blockOf = new Map<string, Block>();
  private blocks: Block[] = [];
  private readonly text = new Map<string, string>();

  constructor(private readonly blockSize = 256) {}

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
    if (b) b.bytes = null;
  }

  /** Appends `key` to the list (no-op if present). */
  add(key: string): void {
    if (this.blockOf.has(key)) return;
    let b = this.blocks.at(-1);
    if (!b || b.filled >= this.blockSize) this.blocks.push((b = { keys: new Set(), filled: 0, bytes: null }));
    b.keys.add(key);
    b.filled++;
    b.bytes = null;
    this.blockOf.set(key, b);
  }

  /** Removes `key` from the list. */
  remove(key: string): void {
    this.text.delete(key);
    const b = this.blockOf.get(key);
    if (!b) return;
    this.blockOf.delete(key);
    b.keys.delete(key);
    b.bytes = null;
    if (b.keys.size === 0 && b.filled >= this.blockSize) this.blocks = this.blocks.filter((x) => x !== b);
  }

  get size(): number {
    return this.blockOf.size;
  }

  /** `open` + the fragments joined with commas + `close`, as chunks; renders the missing fragments with `render`. */
  encode(open: string, close: string, render: (key: string) => string): Buffer[] {
    const parts: Buffer[] = [Buffer.from(open)];
    for (const b of this.blocks) {
      if (b.keys.size === 0) continue;
      if (!b.bytes) {
        const strs: string[] = [];
        for (const k of b.keys) {
          let s = this.text.get(k);
          if (s === undefined) this.text.set(k, (s = render(k)));
          strs.push(s);
        }
        b.bytes = Buffer.from(strs.join(','));
      }
      if (parts.length > 1) parts.push(COMMA);
      parts.push(b.bytes);
    }
    parts.push(Buffer.from(close));
    return parts;
  }
}
