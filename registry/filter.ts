/**
 * Consul 1.8's `?filter=` expressions (go-bexpr 0.1.2's grammar and semantics), written from
 * its documentation and observed answers, not from its code:
 *
 *   Expr      := Or ;  Or := And ("or" And)* ;  And := Not ("and" Not)* ;  Not := "not" Not | "(" Or ")" | Match
 *   Match     := Selector ("==" | "!=" | "contains" | "not contains" | "matches" | "not matches") Value
 *              | Selector ("is empty" | "is not empty")  |  Value ("in" | "not in") Selector
 *   Selector  := Ident ("." Ident | "[" String "]")*   Value := Selector (as text) | Number | String
 *
 * The parser is a PEG interpreter that records the farthest failure the way the generated
 * go-bexpr parser does, so a bad expression gets Consul's own message ("1:16 (15): no match
 * found, expected: …"). Selectors are validated against the endpoint's record type (Consul's
 * field configurations: which fields exist, which operators each supports, how values are
 * coerced), then each record is evaluated: a selector through a list is true when any element
 * matches, a missing map key makes ==/in/is-not-empty false and every other operator true.
 */

// ---------------------------------------------------------------- field types

type Op = 'Equal' | 'Not Equal' | 'In' | 'Not In' | 'Is Empty' | 'Is Not Empty' | 'Matches' | 'Not Matches';
type Coerce = 'string' | 'int' | 'bool';

export interface FieldType {
  ops: readonly Op[];
  coerce?: Coerce;
  /** Named sub-fields (structs) or `*` for any map key. */
  sub?: Record<string, FieldType>;
  /** How values are reached: a struct field, a map, a list (any element), or a leaf. */
  kind: 'struct' | 'map' | 'list' | 'leaf';
}

const STR_OPS: Op[] = ['Equal', 'Not Equal', 'In', 'Not In', 'Matches', 'Not Matches'];
const S: FieldType = { kind: 'leaf', ops: STR_OPS, coerce: 'string' };
const I: FieldType = { kind: 'leaf', ops: ['Equal', 'Not Equal'], coerce: 'int' };
const B: FieldType = { kind: 'leaf', ops: ['Equal', 'Not Equal'], coerce: 'bool' };
const STRS: FieldType = { kind: 'list', ops: ['Is Empty', 'Is Not Empty', 'In', 'Not In'], coerce: 'string' };
const mapOf = (v: FieldType): FieldType => ({ kind: 'map', ops: ['Is Empty', 'Is Not Empty', 'In', 'Not In'], coerce: 'string', sub: { '*': v } });
const struct = (sub: Record<string, FieldType>): FieldType => ({ kind: 'struct', ops: [], sub });
const listOf = (sub: Record<string, FieldType>): FieldType => ({ kind: 'list', ops: ['Is Empty', 'Is Not Empty'], sub });

const WEIGHTS = struct({ Passing: I, Warning: I });
const MESH = struct({ Mode: S });
const PROXY = struct({
  DestinationServiceName: S, DestinationServiceID: S, LocalServiceAddress: S, LocalServicePort: I,
  Upstreams: listOf({ DestinationType: S, DestinationNamespace: S, DestinationName: S, Datacenter: S, LocalBindAddress: S, LocalBindPort: I, MeshGateway: MESH }),
  MeshGateway: MESH,
  Expose: struct({ Checks: B, Paths: listOf({ ListenerPort: I, Path: S, LocalPathPort: I, Protocol: S, ParsedFromCheck: B }) }),
});
const SERVICE_ADDRESS = struct({ Address: S, Port: I });

export const NODE_FIELDS = struct({ ID: S, Node: S, Address: S, Datacenter: S, TaggedAddresses: mapOf(S), Meta: mapOf(S) });
export const NODE_SERVICE_FIELDS = struct({
  Kind: S, ID: S, Service: S, Tags: STRS, Address: S, TaggedAddresses: mapOf(SERVICE_ADDRESS), Meta: mapOf(S), Port: I,
  Weights: WEIGHTS, EnableTagOverride: B, Proxy: PROXY, Connect: struct({ Native: B }),
});
export const HEALTH_CHECK_FIELDS = struct({ Node: S, CheckID: S, Name: S, Status: S, Notes: S, Output: S, ServiceID: S, ServiceName: S, ServiceTags: STRS, Type: S });
export const SERVICE_NODE_FIELDS = struct({
  ID: S, Node: S, Address: S, Datacenter: S, TaggedAddresses: mapOf(S), NodeMeta: mapOf(S), ServiceKind: S, ServiceID: S, ServiceName: S,
  ServiceTags: STRS, ServiceAddress: S, ServiceTaggedAddresses: mapOf(SERVICE_ADDRESS), ServiceMeta: mapOf(S), ServicePort: I, ServiceWeights: WEIGHTS,
  ServiceEnableTagOverride: B, ServiceProxy: PROXY, ServiceConnect: struct({ Native: B }),
});
export const CHECK_SERVICE_NODE_FIELDS = struct({ Node: NODE_FIELDS, Service: NODE_SERVICE_FIELDS, Checks: listOf(HEALTH_CHECK_FIELDS.sub!) });

// ---------------------------------------------------------------- AST

type Expr =
  | { t: 'and' | 'or'; l: Expr; r: Expr }
  | { t: 'not'; e: Expr }
  | { t: 'match'; sel: string[]; op: Op; raw: string | null; value?: unknown };

export class FilterError extends Error {}

// ---------------------------------------------------------------- parser (PEG, pigeon-style errors)

const FAIL = Symbol('fail');
type R<T> = T | typeof FAIL;

class Parser {
  pos = 0;
  private maxFail = -1;
  private expected = new Set<string>();
  private invert = false;
  private readonly errors: string[] = [];
  private readonly rules: string[] = [];

  constructor(private readonly s: string) {}

  private failAt(ok: boolean, at: number, want: string): void {
    if (ok !== this.invert) return;
    if (at < this.maxFail) return;
    if (at > this.maxFail) {
      this.maxFail = at;
      this.expected = new Set();
    }
    this.expected.add(this.invert ? `!${want}` : want);
  }

  private where(at: number): string {
    const before = this.s.slice(0, at);
    const line = before.split('\n').length;
    const col = [...before.slice(before.lastIndexOf('\n') + 1)].length + 1;
    return `${line}:${col} (${Buffer.byteLength(before)})`;
  }

  private addErr(at: number, message: string): void {
    const rule = this.rules.at(-1);
    const text = `${this.where(at)}${rule ? `: rule ${rule}` : ''}: ${message}`;
    if (!this.errors.includes(text)) this.errors.push(text);
  }

  private rule<T>(name: string, fn: () => R<T>): R<T> {
    this.rules.push(name);
    try {
      return fn();
    } finally {
      this.rules.pop();
    }
  }

  private lit(text: string): boolean {
    const start = this.pos;
    const ok = this.s.startsWith(text, this.pos);
    this.failAt(ok, start, JSON.stringify(text));
    if (ok) this.pos += text.length;
    return ok;
  }

  private cls(re: RegExp, label: string): boolean {
    const ch = this.s[this.pos];
    const ok = ch !== undefined && re.test(ch);
    this.failAt(ok, this.pos, label);
    if (ok) this.pos++;
    return ok;
  }

  private any(): boolean {
    const ok = this.pos < this.s.length;
    this.failAt(ok, this.pos, '.');
    if (ok) this.pos++;
    return ok;
  }

  /** `!e`: succeeds (consuming nothing) when e fails. */
  private not(fn: () => boolean): boolean {
    const start = this.pos;
    this.invert = !this.invert;
    const ok = fn();
    this.invert = !this.invert;
    this.pos = start;
    return !ok;
  }

  /** `&e`: succeeds (consuming nothing) when e succeeds. */
  private and(fn: () => boolean): boolean {
    const start = this.pos;
    const ok = fn();
    this.pos = start;
    return ok;
  }

  /** Runs a sequence; restores the position when it fails. */
  private seq<T>(fn: () => R<T>): R<T> {
    const start = this.pos;
    const r = fn();
    if (r === FAIL) this.pos = start;
    return r;
  }

  private ws(): boolean {
    return this.rule('"whitespace"', () => {
      if (!this.cls(/[ \t\r\n]/, '[ \\t\\r\\n]')) return FAIL;
      while (this.cls(/[ \t\r\n]/, '[ \\t\\r\\n]'));
      return true;
    }) !== FAIL;
  }
  private optWs(): void {
    this.ws();
  }
  private eof(): boolean {
    return this.rule('EOF', () => (this.not(() => this.any()) ? true : FAIL)) !== FAIL;
  }

  parse(): Expr {
    const result = this.rule('Input', () => {
      const a = this.seq(() => {
        this.optWs();
        if (!this.lit('(')) return FAIL;
        this.optWs();
        const e = this.orExpr();
        if (e === FAIL) return FAIL;
        this.optWs();
        if (!this.lit(')')) return FAIL;
        this.optWs();
        return this.eof() ? e : FAIL;
      });
      if (a !== FAIL) return a;
      return this.seq(() => {
        this.optWs();
        const e = this.orExpr();
        if (e === FAIL) return FAIL;
        this.optWs();
        return this.eof() ? e : FAIL;
      });
    });
    if (result === FAIL && this.errors.length === 0) {
      const exp = [...this.expected];
      const eof = exp.includes('!.');
      const list = exp.filter((e) => e !== '!.').sort(goLess);
      if (eof) list.push('EOF');
      const joined = list.length <= 1 ? (list[0] ?? '') : `${list.slice(0, -1).join(', ')} or ${list.at(-1)}`;
      throw new FilterError(`${this.where(Math.max(0, this.maxFail))}: no match found, expected: ${joined}`);
    }
    if (this.errors.length) throw new FilterError(this.errors.join('\n'));
    return result as Expr;
  }

  private orExpr(): R<Expr> {
    return this.rule('OrExpression', () => {
      const a = this.seq((): R<Expr> => {
        const l = this.andExpr();
        if (l === FAIL || !this.ws() || !this.lit('or') || !this.ws()) return FAIL;
        const r = this.orExpr();
        return r === FAIL ? FAIL : { t: 'or', l, r };
      });
      return a !== FAIL ? a : this.andExpr();
    });
  }

  private andExpr(): R<Expr> {
    return this.rule('AndExpression', () => {
      const a = this.seq((): R<Expr> => {
        const l = this.notExpr();
        if (l === FAIL || !this.ws() || !this.lit('and') || !this.ws()) return FAIL;
        const r = this.andExpr();
        return r === FAIL ? FAIL : { t: 'and', l, r };
      });
      return a !== FAIL ? a : this.notExpr();
    });
  }

  private notExpr(): R<Expr> {
    return this.rule('NotExpression', () => {
      const a = this.seq((): R<Expr> => {
        if (!this.lit('not') || !this.ws()) return FAIL;
        const e = this.notExpr();
        if (e === FAIL) return FAIL;
        return e.t === 'not' ? e.e : { t: 'not', e };
      });
      return a !== FAIL ? a : this.paren();
    });
  }

  private paren(): R<Expr> {
    return this.rule('"grouping"', () => {
      const a = this.seq((): R<Expr> => {
        if (!this.lit('(')) return FAIL;
        this.optWs();
        const e = this.orExpr();
        if (e === FAIL) return FAIL;
        this.optWs();
        return this.lit(')') ? e : FAIL;
      });
      if (a !== FAIL) return a;
      const m = this.match();
      if (m !== FAIL) return m;
      return this.seq((): R<Expr> => {
        if (!this.lit('(')) return FAIL;
        this.optWs();
        if (this.orExpr() === FAIL) return FAIL;
        this.optWs();
        if (!this.not(() => this.lit(')'))) return FAIL;
        this.addErr(this.pos, 'Unmatched parentheses');
        return FAIL;
      });
    });
  }

  private match(): R<Expr> {
    return this.rule('"match"', () => {
      // Selector op Value
      const a = this.rule('"match"', () =>
        this.seq((): R<Expr> => {
          const sel = this.selector();
          if (sel === FAIL) return FAIL;
          const op = this.firstOf<Op>([
            () => this.seq(() => (this.optWs(), this.lit('==') ? (this.optWs(), 'Equal' as Op) : FAIL)),
            () => this.seq(() => (this.optWs(), this.lit('!=') ? (this.optWs(), 'Not Equal' as Op) : FAIL)),
            () => this.seq(() => (this.ws() && this.lit('contains') && this.ws() ? ('In' as Op) : FAIL)),
            () => this.seq(() => (this.ws() && this.lit('not') && this.ws() && this.lit('contains') && this.ws() ? ('Not In' as Op) : FAIL)),
            () => this.seq(() => (this.ws() && this.lit('matches') && this.ws() ? ('Matches' as Op) : FAIL)),
            () => this.seq(() => (this.ws() && this.lit('not') && this.ws() && this.lit('matches') && this.ws() ? ('Not Matches' as Op) : FAIL)),
          ]);
          if (op === FAIL) return FAIL;
          const v = this.value();
          return v === FAIL ? FAIL : { t: 'match', sel, op, raw: v };
        }),
      );
      if (a !== FAIL) return a;
      // Selector is [not] empty
      const b = this.rule('"match"', () =>
        this.seq((): R<Expr> => {
          const sel = this.selector();
          if (sel === FAIL) return FAIL;
          const op = this.firstOf<Op>([
            () => this.seq(() => (this.ws() && this.lit('is') && this.ws() && this.lit('empty') ? ('Is Empty' as Op) : FAIL)),
            () => this.seq(() => (this.ws() && this.lit('is') && this.ws() && this.lit('not') && this.ws() && this.lit('empty') ? ('Is Not Empty' as Op) : FAIL)),
          ]);
          return op === FAIL ? FAIL : { t: 'match', sel, op, raw: null };
        }),
      );
      if (b !== FAIL) return b;
      // Value [not] in Selector
      return this.rule('"match"', () => {
        const inOps = () =>
          this.firstOf<Op>([
            () => this.seq(() => (this.ws() && this.lit('in') && this.ws() ? ('In' as Op) : FAIL)),
            () => this.seq(() => (this.ws() && this.lit('not') && this.ws() && this.lit('in') && this.ws() ? ('Not In' as Op) : FAIL)),
          ]);
        const c = this.seq((): R<Expr> => {
          const v = this.value();
          if (v === FAIL) return FAIL;
          const op = inOps();
          if (op === FAIL) return FAIL;
          const sel = this.selector();
          return sel === FAIL ? FAIL : { t: 'match', sel, op, raw: v };
        });
        if (c !== FAIL) return c;
        return this.seq((): R<Expr> => {
          if (this.value() === FAIL || inOps() === FAIL) return FAIL;
          if (!this.not(() => this.selector() !== FAIL)) return FAIL;
          this.addErr(this.pos, 'Invalid selector');
          return FAIL;
        });
      });
    });
  }

  private firstOf<T>(alts: (() => R<T>)[]): R<T> {
    for (const alt of alts) {
      const r = alt();
      if (r !== FAIL) return r;
    }
    return FAIL;
  }

  private selector(): R<string[]> {
    return this.rule('"selector"', () =>
      this.seq((): R<string[]> => {
        const first = this.ident();
        if (first === FAIL) return FAIL;
        const out = [first];
        for (;;) {
          const dot = this.seq(() => (this.lit('.') ? this.ident() : FAIL));
          if (dot !== FAIL) {
            out.push(dot);
            continue;
          }
          const idx = this.indexExpr();
          if (idx !== FAIL) {
            out.push(idx);
            continue;
          }
          return out;
        }
      }),
    );
  }

  private ident(): R<string> {
    return this.rule('Identifier', () => {
      const start = this.pos;
      if (!this.cls(/[a-zA-Z]/, '[a-zA-Z]')) return FAIL;
      while (this.cls(/[a-zA-Z0-9_]/, '[a-zA-Z0-9_]'));
      return this.s.slice(start, this.pos);
    });
  }

  private indexExpr(): R<string> {
    return this.rule('"index"', () => {
      const a = this.seq((): R<string> => {
        if (!this.lit('[')) return FAIL;
        this.optWs();
        const lit = this.stringLit();
        if (lit === FAIL) return FAIL;
        this.optWs();
        return this.lit(']') ? lit : FAIL;
      });
      if (a !== FAIL) return a;
      const b = this.seq((): R<string> => {
        if (!this.lit('[')) return FAIL;
        this.optWs();
        if (!this.not(() => this.stringLit() !== FAIL)) return FAIL;
        this.addErr(this.pos, 'Invalid index');
        return FAIL;
      });
      if (b !== FAIL) return b;
      return this.seq((): R<string> => {
        if (!this.lit('[')) return FAIL;
        this.optWs();
        if (this.stringLit() === FAIL) return FAIL;
        this.optWs();
        if (!this.not(() => this.lit(']'))) return FAIL;
        this.addErr(this.pos, 'Unclosed index expression');
        return FAIL;
      });
    });
  }

  private value(): R<string> {
    return this.rule('"value"', () => {
      const sel = this.selector();
      if (sel !== FAIL) return sel.join('.');
      const n = this.numberLit();
      if (n !== FAIL) return n;
      return this.stringLit();
    });
  }

  private numberLit(): R<string> {
    return this.rule('"number"', () => {
      const body = () => {
        this.lit('-');
        if (!this.lit('0')) {
          if (!this.cls(/[1-9]/, '[1-9]')) return false;
          while (this.cls(/[0-9]/, '[0-9]'));
        }
        this.seq(() => {
          if (!this.lit('.')) return FAIL;
          if (!this.cls(/[0-9]/, '[0-9]')) return FAIL;
          while (this.cls(/[0-9]/, '[0-9]'));
          return true;
        });
        return true;
      };
      const after = () => this.rule('AfterNumbers', () => (this.and(() => this.ws() || this.eof() || this.lit(')')) ? true : FAIL)) !== FAIL;
      const start = this.pos;
      const a = this.seq(() => (body() && after() ? this.s.slice(start, this.pos) : FAIL));
      if (a !== FAIL) return a;
      return this.seq((): R<string> => {
        if (!body()) return FAIL;
        if (!this.not(after)) return FAIL;
        this.addErr(this.pos, 'Invalid number literal');
        return FAIL;
      });
    });
  }

  private stringLit(): R<string> {
    return this.rule('"string"', () => {
      const start = this.pos;
      const raw = () => this.lit('`') && (this.rawChars('`'), this.lit('`'));
      const dq = () => this.lit('"') && (this.rawChars('"'), this.lit('"'));
      const ok = this.seq(() => (raw() ? true : FAIL)) !== FAIL || this.seq(() => (dq() ? true : FAIL)) !== FAIL;
      if (ok) {
        const text = this.s.slice(start, this.pos);
        const v = goUnquote(text);
        if (v === null) {
          this.addErr(start, 'invalid syntax');
          return FAIL;
        }
        return v;
      }
      return this.seq((): R<string> => {
        const open = this.seq(() => (this.lit('`') ? (this.rawChars('`'), true) : FAIL)) !== FAIL || this.seq(() => (this.lit('"') ? (this.rawChars('"'), true) : FAIL)) !== FAIL;
        if (!open || !this.eof()) return FAIL;
        this.addErr(this.pos, 'Unterminated string literal');
        return FAIL;
      });
    });
  }

  /** `(!q .)*` */
  private rawChars(q: string): void {
    for (;;) {
      const start = this.pos;
      if (!this.not(() => this.lit(q))) break;
      if (!this.any()) {
        this.pos = start;
        break;
      }
    }
  }
}

/** Go's sort.Strings order (bytewise). */
function goLess(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return Buffer.compare(x, y);
}

/** Go's strconv.Unquote for "…" and `…` literals; null when Go would refuse it. */
function goUnquote(lit: string): string | null {
  if (lit.startsWith('`')) return lit.includes('\r') ? lit.slice(1, -1).replace(/\r/g, '') : lit.slice(1, -1);
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\n') return null;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };
    if (n === undefined) return null;
    if (n in simple) out += simple[n];
    else if (n === 'x' || n === 'u' || n === 'U') {
      const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) return null;
      const code = parseInt(hex, 16);
      if (n !== 'x' && (code > 0x10ffff || (code >= 0xd800 && code < 0xe000))) return null;
      out += n === 'x' ? Buffer.from([code]).toString('latin1') : String.fromCodePoint(code);
      i += len;
    } else if (/[0-7]/.test(n)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) return null;
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else return null;
  }
  return out;
}

// ---------------------------------------------------------------- validation

function coerce(kind: Coerce, raw: string): unknown {
  if (kind === 'string') return raw;
  if (kind === 'bool') {
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
    throw new Error(`strconv.ParseBool: parsing ${goQuote(raw)}: invalid syntax`);
  }
  // strconv.ParseInt(raw, 0, 64): sign, 0x/0o/0b/0 prefixes, underscores only with a prefix.
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9]*)$/.exec(raw);
  if (!m || (/_/.test(m[2]!) && (/__|_$/.test(m[2]!) || /^[1-9]/.test(m[2]!)))) throw new Error(`strconv.ParseInt: parsing ${goQuote(raw)}: invalid syntax`);
  const digits = m[2]!.replace(/_/g, '');
  let n: bigint;
  if (/^0[xX]/.test(digits)) n = BigInt(digits);
  else if (/^0[oO]/.test(digits)) n = BigInt(`0o${digits.slice(2)}`);
  else if (/^0[bB]/.test(digits)) n = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) n = BigInt(`0o${digits.slice(1)}`);
  else n = BigInt(digits);
  if (m[1] === '-') n = -n;
  if (n > 9223372036854775807n || n < -9223372036854775808n) throw new Error(`strconv.ParseInt: parsing ${goQuote(raw)}: value out of range`);
  return Number(n);
}

function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u007f/g, '\\x7f');
}

/** Go RE2 syntax that JavaScript reads differently is refused rather than guessed. */
function compileRegex(src: string): RegExp {
  if (/\(\?[^:]|\\[pPzQEC]|\[\[:/.test(src)) throw new Error(`error parsing regexp: the embedded registry does not support this RE2 syntax: \`${src}\``);
  try {
    return new RegExp(src, 'u');
  } catch (err) {
    const msg = (err as Error).message;
    const what = /Unterminated character class/.test(msg)
      ? `missing closing ]: \`${src.slice(src.lastIndexOf('['))}\``
      : /Unterminated group/.test(msg)
        ? `missing closing ): \`${src}\``
        : /Unmatched '\)'/.test(msg)
          ? `unexpected ): \`${src}\``
          : /Nothing to repeat/.test(msg)
            ? `missing argument to repetition operator: \`${src.match(/[*+?]/)?.[0] ?? ''}\``
            : `invalid regular expression: \`${src}\``;
    throw new Error(`error parsing regexp: ${what}`, { cause: err });
  }
}

function validate(node: Expr, root: FieldType): void {
  if (node.t === 'and' || node.t === 'or') {
    validate(node.l, root);
    validate(node.r, root);
    return;
  }
  if (node.t === 'not') {
    validate(node.e, root);
    return;
  }
  const e = node as Extract<Expr, { t: 'match' }>;
  let cfg: FieldType = root;
  e.sel.forEach((name, i) => {
    const next = cfg.sub?.[name] ?? cfg.sub?.['*'];
    if (!next) throw new FilterError(`Selector ${goQuote(e.sel.slice(0, i + 1).join('.'))} is not valid`);
    cfg = next;
  });
  const selText = goQuote(e.sel.join('.'));
  if (!cfg.ops.includes(e.op)) throw new FilterError(`Invalid match operator ${goQuote(e.op)} for selector ${selText}`);
  if (e.raw === null) return;
  let value: unknown = e.raw;
  if (cfg.coerce) {
    try {
      value = coerce(cfg.coerce, e.raw);
    } catch (err) {
      throw new FilterError(`Failed to coerce value ${goQuote(e.raw)} for selector ${selText}: ${(err as Error).message}`);
    }
  }
  if (e.op === 'Matches' || e.op === 'Not Matches') {
    if (typeof value !== 'string') throw new FilterError(`Match operator ${goQuote(e.op)} cannot be used with fields whose coercion functions return non string values`);
    try {
      value = compileRegex(value);
    } catch (err) {
      throw new FilterError(`Failed to compile regular expression ${goQuote(String(value))}: ${(err as Error).message}`);
    }
  }
  e.value = value;
}

// ---------------------------------------------------------------- evaluation

function leafMatch(e: Extract<Expr, { t: 'match' }>, v: unknown): boolean {
  switch (e.op) {
    case 'Equal':
      return v === e.value;
    case 'Not Equal':
      return v !== e.value;
    case 'In':
    case 'Not In': {
      let found: boolean;
      if (Array.isArray(v)) found = v.includes(e.value);
      else if (typeof v === 'string') found = v.includes(e.value as string);
      else if (v && typeof v === 'object') found = Object.prototype.hasOwnProperty.call(v, e.value as string);
      else found = false; // a nil map or list
      return e.op === 'In' ? found : !found;
    }
    case 'Is Empty':
    case 'Is Not Empty': {
      const empty = v === null || v === undefined || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' ? Object.keys(v).length === 0 : String(v).length === 0);
      return e.op === 'Is Empty' ? empty : !empty;
    }
    case 'Matches':
      return (e.value as RegExp).test(String(v ?? ''));
    case 'Not Matches':
      return !(e.value as RegExp).test(String(v ?? ''));
  }
}

function matchAt(e: Extract<Expr, { t: 'match' }>, depth: number, v: unknown, cfg: FieldType): boolean {
  if (depth >= e.sel.length) return leafMatch(e, v);
  if (cfg.kind === 'list') {
    const items = Array.isArray(v) ? v : [];
    return items.some((item) => matchAt(e, depth, item, { ...cfg, kind: 'struct' }));
  }
  const name = e.sel[depth]!;
  if (cfg.kind === 'map') {
    // A missing key: go-bexpr answers false for ==, in and is-not-empty, and true for every other operator (matches included).
    if (!v || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, name)) return !(e.op === 'Equal' || e.op === 'Is Not Empty' || e.op === 'In');
    return matchAt(e, depth + 1, (v as Record<string, unknown>)[name], cfg.sub!['*']!);
  }
  const next = cfg.sub![name]!;
  return matchAt(e, depth + 1, v && typeof v === 'object' ? (v as Record<string, unknown>)[name] : undefined, next);
}

function evaluate(e: Expr, datum: unknown, root: FieldType): boolean {
  switch (e.t) {
    case 'and':
      return evaluate(e.l, datum, root) && evaluate(e.r, datum, root);
    case 'or':
      return evaluate(e.l, datum, root) || evaluate(e.r, datum, root);
    case 'not':
      return !evaluate(e.e, datum, root);
    case 'match':
      return matchAt(e, 0, datum, root);
  }
}

/** A compiled filter over records of one type; throws FilterError with Consul's message. */
export function compileFilter(expression: string, fields: FieldType): (record: unknown) => boolean {
  const ast = new Parser(expression).parse();
  validate(ast, fields);
  return (record) => evaluate(ast, record, fields);
}

/** Consul's 500 text for a filter it cannot use. */
export function filterErrorText(err: FilterError): string {
  return `Failed to create boolean expression evaluator: ${err.message}`;
}
