/**
 * Field picking, one home: how a mapping's `source` names a field — a plain name or a JSON
 * path `$.a.b[0]['c d']` — and how a name finds what it names: the exact name first, else a
 * case-insensitive match. Used for table columns and CSV header names (mapping.ts), JSON
 * properties (format/json.ts) and Parquet columns and struct fields (format/parquet.ts).
 */
import { DataError } from '../errors.js';

export type PathStep = string | number;

/** `$.a.b[0]['c d']` → ['a', 'b', 0, 'c d']; a plain name → [name]. */
export function parseJsonPath(source: string): PathStep[] {
  if (!source.startsWith('$')) return [source];
  const steps: PathStep[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < source.length) {
    const at = re.lastIndex;
    const m = re.exec(source);
    if (!m) throw new DataError(`mapping source ${JSON.stringify(source)} is not a JSON path this loader reads ($.a.b, $.a[0], $['a b']) at character ${at + 1}`, {});
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else steps.push((m[3] ?? m[4])!.replace(/\\(.)/g, '$1'));
  }
  return steps;
}

/** The items named `name`: the exact match, else every case-insensitive one (in order). */
function named<T>(items: readonly T[], name: string, nameOf: (item: T) => string): T[] {
  const exact = items.find((item) => nameOf(item) === name);
  if (exact !== undefined) return [exact];
  const folded = name.toLowerCase();
  return items.filter((item) => nameOf(item).toLowerCase() === folded);
}

/** For a mapping (columns, header names): the exact name, else the only case-insensitive match; 'ambiguous' when several. */
export function findByName<T>(items: readonly T[], name: string, nameOf: (item: T) => string): T | 'ambiguous' | undefined {
  const found = named(items, name, nameOf);
  return found.length > 1 ? 'ambiguous' : found[0];
}

/** For names in a file (Parquet columns): the exact name, else the first case-insensitive match. */
export function firstByName<T>(items: readonly T[], name: string, nameOf: (item: T) => string): T | undefined {
  return named(items, name, nameOf)[0];
}

/** A record's property (JSON object, Parquet struct): its own property `name`, else the first whose name folds to `folded`. */
export function property(obj: unknown, name: string, folded = name.toLowerCase()): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  // Own properties only: a field named `constructor` or `toString` is not Object.prototype's.
  // One lookup in the common case: what Object.prototype holds is functions (and the
  // `__proto__` accessor), which no parsed JSON or Parquet value is.
  const value = o[name];
  if (value !== undefined && typeof value !== 'function' && name !== '__proto__') return value;
  if (Object.hasOwn(o, name)) return o[name];
  for (const key in o) if (key.toLowerCase() === folded && Object.hasOwn(o, key)) return o[key];
  return undefined;
}

export type Accessor = (record: unknown) => unknown;

/** Reads `steps` out of a record: names by `property`, numbers as array indexes; undefined (or the null met) where the path breaks off. */
export function fieldAccessor(steps: readonly PathStep[]): Accessor {
  if (steps.length === 1 && typeof steps[0] === 'string') {
    const name = steps[0];
    const folded = name.toLowerCase();
    return (record) => property(record, name, folded);
  }
  const folded = steps.map((s) => (typeof s === 'string' ? s.toLowerCase() : s));
  return (record) => {
    let value: unknown = record;
    for (let i = 0; i < steps.length && value !== undefined && value !== null; i++) {
      const step = steps[i]!;
      value = typeof step === 'number' ? (Array.isArray(value) ? value[step] : undefined) : property(value, step, folded[i] as string);
    }
    return value;
  };
}
