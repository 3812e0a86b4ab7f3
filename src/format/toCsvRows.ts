/**
 * JSON objects / Parquet rows → CSV rows for COPY (not a CSV reader: those are in csv/). Every writer consumes CSV
 * (DecodedBlob), so record formats are re-encoded here, in Node, knowing each target
 * column's type: the decoders take the table's columns (DecodeContext in format/index.ts) rather
 * than emitting JSON text for a staging table to cast, because the fast path (COPY straight
 * into the table) then stays open to them, and Postgres casts each field as it parses it.
 *  - json/jsonb column: the value's JSON text (an object is stored as JSON, not a string).
 *  - array column (`text[]`, `int[]` …): a Postgres array literal `{…}`.
 *  - bytea: `\x` hex. Dates and timestamps arrive as ISO text from the decoders.
 */
import type { TableColumn } from '../pipeline/table.js';
import { MIN_CHUNK_BYTES } from './byteReader.js';
import type { CsvCopyOptions } from './csv/dialect.js';

export type ValueKind = 'json' | 'array' | 'bytea' | 'scalar';

/** The CSV dialect record decoders write (RFC 4180, empty unquoted = NULL). */
export const RECORD_CSV_OPTIONS: CsvCopyOptions = { delimiter: ',', quote: '"', escape: '"', null: '', encoding: 'UTF8' };

export function kindOf(column: TableColumn | undefined): ValueKind {
  if (!column) return 'scalar';
  if (column.type === 'json' || column.type === 'jsonb') return 'json';
  if (column.type.endsWith('[]')) return 'array';
  if (column.type === 'bytea') return 'bytea';
  return 'scalar';
}

const SPECIAL = /[",\r\n]/;

/**
 * One text as a CSV field: quoted when it holds the delimiter, quote, CR or LF, when empty
 * (the unquoted empty field is NULL), or when it is `\.` (COPY's end-of-data marker).
 */
export function csvText(text: string): string {
  if (text.length <= 2 && (text === '' || text === '\\.')) return `"${text}"`;
  return SPECIAL.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** JSON.stringify that survives bigint (Parquet INT64 inside structs) and bytes. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return v;
  });
}

function hex(bytes: Uint8Array): string {
  return '\\x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Fractional digits the short path tries: a value with more takes String() after at most 6 tries. */
const SHORT_DECIMALS = 6;
const POWERS_OF_TEN = Array.from({ length: SHORT_DECIMALS + 1 }, (_, k) => 10 ** k);

/**
 * `String(value)` for a number, faster for decimals with up to 6 fractional digits (prices,
 * readings: `731.731`), which V8 formats by its general shortest-digits search.
 * Exact: the first k (fractional digits) for which round(|v| × 10^k) / 10^k gives back v
 * exactly names a decimal of ≤ 15 significant digits that parses to v, and no decimal with
 * fewer digits does (it would have been found at a smaller k), so it is the shortest —
 * the digits String() prints, in the same fixed notation (1e-6 ≤ |v| < 1e9, so that
 * |v| × 10^6 < 10^15). Everything
 * else (integers, long digit strings, exponents, NaN, ±Infinity) is String()'s.
 */
export function numberText(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  // One test first: if any k ≤ 6 works, k = 6 does (the same decimal with trailing zeros),
  // so a long double (most of a float column's values, often) costs one multiply and divide.
  const most = POWERS_OF_TEN[SHORT_DECIMALS]!;
  if (abs >= 1e-6 && abs < 1e9 && Math.round(abs * most) / most === abs) {
    for (let k = 1; k <= SHORT_DECIMALS; k++) {
      const scale = POWERS_OF_TEN[k]!;
      const digits = Math.round(abs * scale);
      if (digits / scale === abs) {
        const whole = Math.trunc(digits / scale);
        const fraction = String(digits - whole * scale);
        return `${value < 0 ? '-' : ''}${whole}.${'0'.repeat(k - fraction.length)}${fraction}`;
      }
    }
  }
  return String(value);
}

/** Text of a scalar as Postgres reads it. */
function scalarText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Uint8Array) return hex(value);
      return toJsonText(value);
  }
}

/** `{1,2,NULL}`, `{"a b","c\"d"}`, nested `{{1,2},{3,4}}` — https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO */
export function pgArrayLiteral(values: ArrayLike<unknown>): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts.push('NULL');
    else if (Array.isArray(v)) parts.push(pgArrayLiteral(v));
    else parts.push(`"${scalarText(v).replace(/[\\"]/g, '\\$&')}"`);
  }
  return `{${parts.join(',')}}`;
}

/** One CSV field (quoted where needed); NULL is the empty unquoted field. */
export function csvField(value: unknown, kind: ValueKind): string {
  if (value === null || value === undefined) return '';
  switch (kind) {
    case 'json':
      return csvText(toJsonText(value));
    case 'array':
      if (Array.isArray(value) || ArrayBuffer.isView(value)) {
        if (value instanceof Uint8Array && !Array.isArray(value)) return csvText(pgArrayLiteral(Array.from(value)));
        return csvText(pgArrayLiteral(value as ArrayLike<unknown>));
      }
      return csvText(scalarText(value));
    default:
      if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return scalarText(value);
      if (Array.isArray(value) || (typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array))) {
        return csvText(toJsonText(value));
      }
      return csvText(scalarText(value));
  }
}

/** Turns one value into its CSV field; chosen once per column (see `fieldText`). */
export type FieldText = (value: unknown) => string;

/**
 * The common case without `csvField`'s kind switch: numbers, bigints and booleans never need
 * quoting, so only strings are checked.
 */
function scalarFieldText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return csvText(value);
    case 'number':
      return numberText(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'undefined':
      return '';
    default:
      return csvField(value, 'scalar');
  }
}

/** The CSV-field function for a column of this kind, picked once per file, not per value. */
export function fieldText(kind: ValueKind): FieldText {
  return kind === 'scalar' ? scalarFieldText : (value) => csvField(value, kind);
}

/**
 * Collects CSV lines and hands them out as ≥ 64 KB buffers (never one write per row). The
 * lines are appended to one string (`+=` makes a rope that V8 flattens once, when the chunk
 * becomes bytes), which measured faster than an array of lines joined.
 */
export class CsvChunker {
  private text = '';
  records = 0;

  push(line: string): void {
    this.text += line;
    this.records++;
  }

  /** Several lines at once (each ending in a line end). */
  pushLines(text: string, records: number): void {
    this.text += text;
    this.records += records;
  }

  /** A chunk once MIN_CHUNK_BYTES have gathered (or whatever is left, when `force`). */
  take(force = false): Buffer | undefined {
    if (!this.text.length || (!force && this.text.length < MIN_CHUNK_BYTES)) return undefined;
    const chunk = Buffer.from(this.text, 'utf8');
    this.text = '';
    return chunk;
  }
}

/**
 * Record number → file line, stored as runs of constant stride (JSON Lines with no blank
 * line is one run; a pretty-printed array of same-shaped objects too), so a 20M-record
 * file does not keep 20M numbers.
 */
export class LineIndex {
  private readonly runs: Array<{ record: number; line: number; stride: number; last: number }> = [];

  /** Records must be added in order, 1-based. */
  add(record: number, line: number): void {
    const run = this.runs[this.runs.length - 1];
    if (run) {
      const expected = run.line + (record - run.record) * run.stride;
      if (record === run.last + 1 && (run.last === run.record ? true : expected === line)) {
        if (run.last === run.record) run.stride = line - run.line;
        if (run.line + (record - run.record) * run.stride === line) {
          run.last = record;
          return;
        }
      }
    }
    this.runs.push({ record, line, stride: 1, last: record });
  }

  lineOf(record: number): number {
    let lo = 0;
    let hi = this.runs.length - 1;
    if (hi < 0) return record;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runs[mid]!.record <= record) lo = mid;
      else hi = mid - 1;
    }
    const run = this.runs[lo]!;
    return run.line + (record - run.record) * run.stride;
  }
}
