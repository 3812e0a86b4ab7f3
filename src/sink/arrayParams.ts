/**
 * One bound parameter per column for BulkInsert's `INSERT … SELECT unnest($1::type[]), …`:
 * builders fed by the CSV column splitter (src/format/csvColumns.ts).
 *
 * Two encodings of a column, chosen per column:
 *  - binary arrays (PostgreSQL's array send format) for bigint, integer, smallint, double
 *    precision, boolean and text/varchar: the server's array_recv only copies the values,
 *    where array_in would parse every element's text (measured faster: bench/README.md,
 *    BulkInsert). A builder accepts only the
 *    canonical spellings it converts exactly as the type's input function would (digits,
 *    decimal floats, t/f/true/false/…); anything else makes it decline, and the column is
 *    sent as text for the rest of the load, where the input function decides.
 *  - text array literals (`{"a","b",NULL}`) for every other type: each element quoted and
 *    `"`/`\` backslash-escaped so array_in hands the input function exactly the field's text.
 */
import type { ColumnBuilder } from '../format/csvColumns.js';

const DQUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const NULL_WORD = Buffer.from('NULL');

/** A growable byte buffer, reused batch after batch. */
class Bytes {
  buf = Buffer.allocUnsafe(1024);
  pos = 0;
  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

/** `{"a","b",NULL}`: the text form, for any element type. */
export class ArrayLiteralBuilder extends Bytes implements ColumnBuilder<string> {
  private count = 0;
  begin(bytes: number): void {
    this.pos = 0;
    this.count = 0;
    this.ensure(bytes + 2);
    this.buf[this.pos++] = 0x7b; // {
  }
  value(src: Buffer, from: number, to: number, plain: boolean): boolean {
    this.open();
    this.bytes(src, from, to, plain);
    return this.close();
  }
  open(): void {
    this.ensure(2);
    if (this.count++ > 0) this.buf[this.pos++] = COMMA;
    this.buf[this.pos++] = DQUOTE;
  }
  bytes(src: Buffer, from: number, to: number, plain: boolean): void {
    this.ensure(2 * (to - from));
    const out = this.buf;
    let o = this.pos;
    if (plain) {
      if (to - from > 32) o += src.copy(out, o, from, to);
      else for (let i = from; i < to; i++) out[o++] = src[i]!;
    } else {
      for (let i = from; i < to; i++) {
        const c = src[i]!;
        if (c === DQUOTE || c === BACKSLASH) out[o++] = BACKSLASH;
        out[o++] = c;
      }
    }
    this.pos = o;
  }
  close(): boolean {
    this.ensure(1);
    this.buf[this.pos++] = DQUOTE;
    return true;
  }
  null(): void {
    this.ensure(5);
    if (this.count++ > 0) this.buf[this.pos++] = COMMA;
    this.pos += NULL_WORD.copy(this.buf, this.pos);
  }
  end(): string {
    this.ensure(1);
    this.buf[this.pos++] = 0x7d; // }
    return this.buf.toString('utf8', 0, this.pos);
  }
}

const MINUS = 45;
const ZERO = 48;

/** Element kinds sent in binary. */
const TEXT = 0;
const INT2 = 1;
const INT4 = 2;
const INT8 = 3;
const FLOAT8 = 4;
const BOOL = 5;
type Kind = typeof TEXT | typeof INT2 | typeof INT4 | typeof INT8 | typeof FLOAT8 | typeof BOOL;

/**
 * PostgreSQL's binary array format, one dimension: ndim, has-nulls flag, element type OID,
 * length, lower bound, then each element as a 4-byte length (-1 = NULL) and its bytes.
 * One class for every element kind (a switch, not subclasses): the splitter's calls stay
 * polymorphic instead of megamorphic — measured 30 % faster splitting.
 * end() returns a view of the reused buffer: the caller keeps it untouched until the
 * parameter has been sent.
 */
export class BinaryArrayBuilder extends Bytes implements ColumnBuilder<Buffer> {
  private count = 0;
  private hasNulls = false;
  /** A value in pieces (a quoted field): text writes them in place, the others gather them here. */
  private readonly scratch = new Bytes();
  private lengthAt = 0;
  constructor(
    private readonly kind: Kind,
    private readonly elementOid: number,
  ) {
    super();
  }
  begin(bytes: number, records: number): void {
    this.pos = 20;
    this.count = 0;
    this.hasNulls = false;
    this.ensure(bytes + records * 4);
  }
  value(src: Buffer, from: number, to: number): boolean {
    this.count++;
    if (this.kind !== TEXT) return this.encode(src, from, to);
    const n = to - from;
    this.ensure(4 + n);
    this.pos = this.buf.writeInt32BE(n, this.pos);
    if (n > 32) this.pos += src.copy(this.buf, this.pos, from, to);
    else for (let i = from; i < to; i++) this.buf[this.pos++] = src[i]!;
    return true;
  }
  open(): void {
    this.count++;
    if (this.kind === TEXT) {
      this.ensure(4);
      this.lengthAt = this.pos;
      this.pos += 4;
    } else {
      this.scratch.pos = 0;
    }
  }
  bytes(src: Buffer, from: number, to: number): void {
    const n = to - from;
    if (this.kind === TEXT) {
      this.ensure(n);
      this.pos += src.copy(this.buf, this.pos, from, to);
      return;
    }
    this.scratch.ensure(n);
    this.scratch.pos += src.copy(this.scratch.buf, this.scratch.pos, from, to);
  }
  close(): boolean {
    if (this.kind !== TEXT) return this.encode(this.scratch.buf, 0, this.scratch.pos);
    this.buf.writeInt32BE(this.pos - this.lengthAt - 4, this.lengthAt);
    return true;
  }
  null(): void {
    this.count++;
    this.hasNulls = true;
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(-1, this.pos);
  }
  end(): Buffer {
    const b = this.buf;
    b.writeInt32BE(1, 0);
    b.writeInt32BE(this.hasNulls ? 1 : 0, 4);
    b.writeInt32BE(this.elementOid, 8);
    b.writeInt32BE(this.count, 12);
    b.writeInt32BE(1, 16);
    return b.subarray(0, this.pos);
  }
  /** Appends the value src[from, to) of a fixed-size kind; false when only the input function should judge it. */
  private encode(src: Buffer, from: number, to: number): boolean {
    this.ensure(12);
    let o: number | undefined;
    switch (this.kind) {
      case INT2:
      case INT4:
      case INT8:
        o = writeInteger(this.buf, this.pos, this.kind, src, from, to);
        break;
      case FLOAT8:
        o = writeFloat8(this.buf, this.pos, src, from, to);
        break;
      case BOOL:
        o = writeBoolean(this.buf, this.pos, src, from, to);
        break;
    }
    if (o === undefined) return false;
    this.pos = o;
    return true;
  }
}

/** Parses `-?[0-9]+` in b[from, to) as an exact integer, or undefined (then the input function must judge it). */
function parseInteger(b: Buffer, from: number, to: number): number | bigint | undefined {
  let i = from;
  const negative = b[i] === MINUS;
  if (negative) i++;
  if (i >= to) return undefined;
  if (to - i > 15) {
    // Past 2^53 Numbers lose digits: BigInt, rare (e.g. 19-digit snowflake IDs).
    for (let k = i; k < to; k++) if (b[k]! < ZERO || b[k]! > ZERO + 9) return undefined;
    return BigInt(b.toString('latin1', from, to));
  }
  let v = 0;
  for (; i < to; i++) {
    const digit = b[i]! - ZERO;
    if (digit < 0 || digit > 9) return undefined;
    v = v * 10 + digit;
  }
  return negative ? -v : v;
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/** smallint, integer, bigint: length, then two's complement, big-endian. Returns the end offset. */
function writeInteger(out: Buffer, o: number, kind: Kind, src: Buffer, from: number, to: number): number | undefined {
  const v = parseInteger(src, from, to);
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') {
    if (kind !== INT8 || v < INT8_MIN || v > INT8_MAX) return undefined;
    return out.writeBigInt64BE(v, out.writeInt32BE(8, o));
  }
  if (kind === INT8) {
    const high = Math.floor(v / 0x1_0000_0000);
    o = out.writeInt32BE(high, out.writeInt32BE(8, o));
    return out.writeUInt32BE(v - high * 0x1_0000_0000, o);
  }
  if (kind === INT4) return v < -0x8000_0000 || v > 0x7fff_ffff ? undefined : out.writeInt32BE(v, out.writeInt32BE(4, o));
  return v < -0x8000 || v > 0x7fff ? undefined : out.writeInt16BE(v, out.writeInt32BE(2, o));
}

/** Exact powers of ten as doubles (10^22 is the largest). */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * double precision from a plain decimal: `-?digits[.digits][e±digits]`, rounded as float8in's
 * strtod rounds it (correctly). At most 15 significant digits and a power of ten up to 22:
 * one exact integer and one exact power, so one IEEE multiply or divide is the correctly
 * rounded result (Clinger's fast path); other inputs go through V8's string-to-double, which
 * rounds correctly too. Declines NaN/Infinity spellings, whitespace, over- and underflow
 * (float8in's errors) and inputs longer than 32 bytes.
 */
function writeFloat8(out: Buffer, o: number, b: Buffer, from: number, to: number): number | undefined {
  if (to === from || to - from > 32) return undefined;
  let i = b[from] === MINUS ? from + 1 : from;
  let digits = 0;
  let significant = 0;
  let mantissa = 0;
  let scale = 0;
  for (; i < to; i++) {
    const d = b[i]! - ZERO;
    if (d < 0 || d > 9) break;
    digits++;
    if (significant > 0 || d !== 0) significant++;
    mantissa = mantissa * 10 + d;
  }
  if (i < to && b[i] === 0x2e) {
    for (i++; i < to; i++) {
      const d = b[i]! - ZERO;
      if (d < 0 || d > 9) break;
      digits++;
      if (significant > 0 || d !== 0) significant++;
      mantissa = mantissa * 10 + d;
      scale--;
    }
  }
  if (digits === 0) return undefined;
  if (i < to && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    let sign = 1;
    if (i < to && (b[i] === 0x2b || b[i] === MINUS)) sign = b[i++] === MINUS ? -1 : 1;
    const start = i;
    let exponent = 0;
    for (; i < to && b[i]! >= ZERO && b[i]! <= ZERO + 9; i++) exponent = Math.min(exponent * 10 + b[i]! - ZERO, 100_000);
    if (i === start) return undefined;
    scale += sign * exponent;
  }
  if (i !== to) return undefined;
  let v: number;
  if (significant <= 15 && scale >= -22 && scale <= 22) {
    v = scale < 0 ? mantissa / POW10[-scale]! : mantissa * POW10[scale]!;
    if (b[from] === MINUS) v = -v;
  } else {
    v = Number(b.toString('latin1', from, to));
  }
  if (!Number.isFinite(v) || (v === 0 && significant > 0)) return undefined;
  return out.writeDoubleBE(v, out.writeInt32BE(8, o));
}

/** boolean from the whole spellings boolin accepts (any case); its prefixes and padding are left to boolin. */
const BOOLEAN_WORDS = new Map<string, number>([
  ['t', 1], ['true', 1], ['y', 1], ['yes', 1], ['on', 1], ['1', 1],
  ['f', 0], ['false', 0], ['n', 0], ['no', 0], ['off', 0], ['0', 0],
]);
/** Lower-case ASCII bytes of the commonest spellings, checked without making a string. */
const TRUE_BYTES = Buffer.from('true');
const FALSE_BYTES = Buffer.from('false');

function matchesLower(b: Buffer, from: number, word: Buffer): boolean {
  for (let k = 0; k < word.length; k++) if ((b[from + k]! | 0x20) !== word[k]) return false;
  return true;
}

function writeBoolean(out: Buffer, o: number, src: Buffer, from: number, to: number): number | undefined {
  const length = to - from;
  let v: number | undefined;
  if (length === 4 && matchesLower(src, from, TRUE_BYTES)) v = 1;
  else if (length === 5 && matchesLower(src, from, FALSE_BYTES)) v = 0;
  else if (length > 0 && length <= 3) v = BOOLEAN_WORDS.get(src.toString('latin1', from, to).toLowerCase());
  if (v === undefined) return undefined;
  o = out.writeInt32BE(1, o);
  out[o] = v;
  return o + 1;
}

/** The parameter's SQL type for a column of base type `baseType`, and its builders. */
export interface ColumnParam {
  /** `text` for text/varchar columns (assignment applies varchar's length), else the base type. */
  sqlType: string;
  binary(): ColumnBuilder<Buffer> | undefined;
}

/** Base types sent in binary: element kind and element type OID (pg_type). */
const BINARY: Record<string, { sqlType?: string; kind: Kind; oid: number }> = {
  bigint: { kind: INT8, oid: 20 },
  integer: { kind: INT4, oid: 23 },
  smallint: { kind: INT2, oid: 21 },
  'double precision': { kind: FLOAT8, oid: 701 },
  boolean: { kind: BOOL, oid: 16 },
  text: { kind: TEXT, oid: 25 },
  'character varying': { sqlType: 'text', kind: TEXT, oid: 25 },
};

export function columnParam(baseType: string): ColumnParam {
  const binary = BINARY[baseType];
  return { sqlType: binary?.sqlType ?? baseType, binary: () => binary && new BinaryArrayBuilder(binary.kind, binary.oid) };
}
