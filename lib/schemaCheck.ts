/**
 * Fast validation of bulk WebSocket frames, without zod's copying and, where it matters,
 * without zod at all.
 *
 * zod's safeParse builds a copy of every object it checks. On the list snapshot of a 10,000
 * service fleet (≈2 MB of JSON) that is 100–250 ms of main-thread time plus the garbage it
 * leaves, all between the frame's arrival and the first row. Here a schema is described as a
 * plain `Shape` (objects, arrays, records, strings, numbers, integers, booleans, enums,
 * literals, null, nullable, optional, discriminated unions) and compiled into a checker that
 * only reads the value: a valid value is handed back as it is (unknown object keys are kept
 * rather than stripped; nothing else differs).
 *
 * `describeSchema` derives the Shape of a zod schema, or null when some part of it cannot be
 * one (a refinement, a default, a transform, a length check). `compileParser` uses it and falls
 * back to zod's safeParse for what cannot be described — per option in a discriminated union —
 * so what it accepts never differs from zod. Code on the first page's path checks against
 * Shapes written out in lib/wireShapes.ts instead, so that it needs no zod.
 */
import type { z } from 'zod';

export type Shape =
  | 'string'
  | 'number'
  | 'int'
  | 'boolean'
  | 'null'
  | 'unknown'
  | { literal: readonly unknown[] }
  | { enum: readonly string[] }
  | { nullable: Shape }
  | { optional: Shape }
  | { array: Shape }
  /** String keys, values of this shape. */
  | { record: Shape }
  /** `strict`: unknown keys are refused (zod's strictObject); otherwise allowed. */
  | { object: { readonly [key: string]: Shape }; strict?: boolean }
  /** Tagged by the literal at `key` in each option (zod's discriminatedUnion). */
  | { union: string; options: readonly Shape[] };

export type ParseResult<T> = { success: true; data: T } | { success: false };

export interface FastParser<T> {
  (value: unknown): ParseResult<T>;
  /** False when the schema is entirely checked by zod (nothing in it could be described). */
  readonly compiled: boolean;
}

export type Check = (v: unknown) => boolean;

/** What is read of a zod 4 schema (`schema._zod.def`). */
interface Def {
  type: string;
  checks?: { _zod: { def: { check: string; format?: string } } }[];
  coerce?: boolean;
  shape?: Record<string, Schema>;
  catchall?: Schema;
  element?: Schema;
  innerType?: Schema;
  keyType?: Schema;
  valueType?: Schema;
  entries?: Record<string, unknown>;
  values?: unknown[];
  options?: Schema[];
  discriminator?: string;
}
interface Schema {
  _zod: { def: Def };
}

const def = (s: Schema): Def => s._zod.def;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The Shape of a zod schema, or null if any part of it has no Shape (see the module comment). */
export function describeSchema(schema: z.ZodType): Shape | null {
  return describe(schema as unknown as Schema);
}

function describe(s: Schema): Shape | null {
  const d = def(s);
  if (d.coerce) return null;
  const plain = (d.checks ?? []).length === 0;
  switch (d.type) {
    case 'string':
    case 'boolean':
      return plain ? d.type : null;
    case 'number':
      if (plain) return 'number';
      return d.checks!.every((c) => c._zod.def.check === 'number_format' && c._zod.def.format === 'safeint') ? 'int' : null;
    case 'null':
      return 'null';
    case 'unknown':
    case 'any':
      return 'unknown';
    case 'literal':
      return plain ? { literal: d.values ?? [] } : null;
    case 'enum': {
      const values = Object.values(d.entries ?? {});
      return plain && values.every((x): x is string => typeof x === 'string') ? { enum: [...values].sort() } : null;
    }
    case 'nullable':
    case 'optional': {
      const inner = describe(d.innerType!);
      return inner && (d.type === 'nullable' ? { nullable: inner } : { optional: inner });
    }
    case 'array': {
      const element = describe(d.element!);
      return element && plain ? { array: element } : null;
    }
    case 'record': {
      const key = def(d.keyType!);
      const value = describe(d.valueType!);
      return key.type === 'string' && !key.checks?.length && value && plain ? { record: value } : null;
    }
    case 'object': {
      // No catchall: unknown keys are stripped (here: kept); `never`: strict; `unknown`: passthrough.
      const catchall = d.catchall ? def(d.catchall).type : null;
      if (!plain || (catchall !== null && catchall !== 'never' && catchall !== 'unknown')) return null;
      const object: Record<string, Shape> = {};
      for (const [k, field] of Object.entries(d.shape ?? {})) {
        const shape = describe(field);
        if (!shape) return null;
        object[k] = shape;
      }
      return catchall === 'never' ? { object, strict: true } : { object };
    }
    case 'union': {
      if (!d.discriminator || !d.options) return null;
      const options: Shape[] = [];
      for (const option of d.options) {
        const shape = describe(option);
        if (!shape) return null;
        options.push(shape);
      }
      return tagsOf({ union: d.discriminator, options }) ? { union: d.discriminator, options } : null;
    }
    default:
      return null;
  }
}

/** Each option of a tagged union by its tag value; null if an option has no literal tag or two share one. */
function tagsOf(u: { union: string; options: readonly Shape[] }): Map<unknown, number> | null {
  const byTag = new Map<unknown, number>();
  for (const [i, option] of u.options.entries()) {
    const tag = typeof option === 'object' && 'object' in option ? option.object[u.union] : undefined;
    if (typeof tag !== 'object' || !('literal' in tag)) return null;
    for (const value of tag.literal) {
      if (byTag.has(value)) return null;
      byTag.set(value, i);
    }
  }
  return byTag;
}

/** A checker for values of `shape`. */
export function compileShape(shape: Shape): Check {
  switch (shape) {
    case 'string':
      return (v) => typeof v === 'string';
    case 'number':
      return (v) => typeof v === 'number' && Number.isFinite(v);
    case 'int':
      return (v) => Number.isSafeInteger(v);
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'null':
      return (v) => v === null;
    case 'unknown':
      return () => true;
  }
  if ('literal' in shape) {
    const values = shape.literal;
    return (v) => values.includes(v);
  }
  if ('enum' in shape) {
    const set = new Set<unknown>(shape.enum);
    return (v) => set.has(v);
  }
  if ('nullable' in shape) {
    const inner = compileShape(shape.nullable);
    return (v) => v === null || inner(v);
  }
  if ('optional' in shape) {
    const inner = compileShape(shape.optional);
    return (v) => v === undefined || inner(v);
  }
  // Plain indexed loops below: the first snapshot is checked before the JIT has warmed up,
  // where iterator protocols and destructuring cost several times more.
  if ('array' in shape) {
    const element = compileShape(shape.array);
    return (v) => {
      if (!Array.isArray(v)) return false;
      for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
      return true;
    };
  }
  if ('record' in shape) {
    const value = compileShape(shape.record);
    return (v) => {
      if (!isObject(v)) return false;
      for (const k in v) if (Object.hasOwn(v, k) && !value(v[k])) return false;
      return true;
    };
  }
  if ('object' in shape) {
    const keys = Object.keys(shape.object);
    const checks = keys.map((k) => compileShape(shape.object[k]!));
    const known = new Set(keys);
    const strict = shape.strict === true;
    return (v) => {
      if (!isObject(v)) return false;
      for (let i = 0; i < keys.length; i++) if (!checks[i]!(v[keys[i]!])) return false;
      if (strict) for (const k in v) if (Object.hasOwn(v, k) && !known.has(k)) return false;
      return true;
    };
  }
  const byTag = tagsOf(shape);
  if (!byTag) throw new Error(`union on "${shape.union}": every option needs its own literal "${shape.union}"`);
  const checks = shape.options.map(compileShape);
  const key = shape.union;
  return (v) => {
    if (!isObject(v)) return false;
    const i = byTag.get(v[key]);
    return i !== undefined && checks[i]!(v);
  };
}

/** A parser that accepts what `shape` describes and returns the input itself. */
export function shapeParser<T>(shape: Shape): FastParser<T> {
  const check = compileShape(shape);
  return Object.assign((v: unknown): ParseResult<T> => (check(v) ? { success: true, data: v as T } : { success: false }), { compiled: true });
}

/** A parser for a zod schema: compiled from its Shape where it has one (per union option), else zod's. */
export function compileParser<S extends z.ZodType>(schema: S): FastParser<z.infer<S>> {
  const shape = describeSchema(schema);
  if (shape) return shapeParser<z.infer<S>>(shape);
  const zod = (v: unknown): ParseResult<z.infer<S>> => {
    const r = schema.safeParse(v);
    return r.success ? { success: true, data: r.data } : { success: false };
  };
  // A discriminated union of which only some options have a Shape: each frame goes to its option's parser.
  const d = def(schema as unknown as Schema);
  if (d.type !== 'union' || !d.discriminator || !d.options) return Object.assign(zod, { compiled: false });
  const key = d.discriminator;
  const byTag = new Map<unknown, FastParser<unknown>>();
  for (const option of d.options) {
    const tag = def(option).type === 'object' ? def(option).shape?.[key] : undefined;
    if (!tag || def(tag).type !== 'literal') return Object.assign(zod, { compiled: false });
    const parser = compileParser(option as unknown as z.ZodType);
    for (const value of def(tag).values ?? []) byTag.set(value, parser);
  }
  if (![...byTag.values()].some((p) => p.compiled)) return Object.assign(zod, { compiled: false });
  return Object.assign(
    (v: unknown): ParseResult<z.infer<S>> => {
      const option = isObject(v) ? byTag.get(v[key]) : undefined;
      return option ? (option(v) as ParseResult<z.infer<S>>) : { success: false };
    },
    { compiled: true },
  );
}
