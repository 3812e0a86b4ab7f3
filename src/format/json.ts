/**
 * JSON: JSON Lines, one top-level array of objects, or concatenated objects — detected
 * from the content, as ADF does — streamed into CSV for COPY (see records.ts).
 *  - JSON Lines: cut on newlines, JSON.parse each line (blank lines ignored).
 *  - Array / concatenated objects: a depth-tracking byte scanner cuts each top-level
 *    object out of the stream and JSON.parses it; the document is never held whole.
 * Columns: with a mapping, each `source` is a property name or a JSON path
 * (`$.customer.address.city`, `$.items[0].sku`, `$['odd key']`); without one, the
 * properties of the first record that match table columns (exact, then case-insensitive —
 * the CSV header rule). A missing property is NULL.
 */
import { Readable } from 'node:stream';
import { DataError } from '../errors.js';
import { findColumn } from '../pipeline/mapping.js';
import type { SourceMappingEntry as MappingEntry } from '../pipeline/sinkSpec.js';
import type { TableColumn } from '../pipeline/table.js';
import type { ByteReader } from './byteReader.js';
import { CsvChunker, csvText, fieldText, kindOf, LineIndex, type FieldText, type ValueKind } from './records.js';

const LF = 0x0a;
const OPEN_BRACE = 0x7b;
const MAX_RECORD_BYTES = 256 * 1024 * 1024;

type PathStep = string | number;

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

type Accessor = (record: Record<string, unknown>) => unknown;

/** Exact property, else the first whose name matches case-insensitively. */
function property(obj: unknown, name: string, folded: string): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  const exact = o[name];
  if (exact !== undefined || Object.prototype.hasOwnProperty.call(o, name)) return exact;
  for (const key in o) if (key.toLowerCase() === folded) return o[key];
  return undefined;
}

function accessor(steps: PathStep[]): Accessor {
  if (steps.length === 1 && typeof steps[0] === 'string') {
    const name = steps[0];
    const folded = name.toLowerCase();
    return (record) => {
      const value = record[name];
      return value !== undefined ? value : property(record, name, folded);
    };
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

export interface JsonColumns {
  /** What copyBlob resolves the mapping against: the mapping's sources, or property names. */
  header: string[];
  accessors: Accessor[];
  kinds: ValueKind[];
  /** Per field, its CSV-field function (records.ts `fieldText`), chosen once. */
  texts: FieldText[];
}

/** The fields to emit, from the mapping or from the first record's properties. */
export function jsonColumns(first: Record<string, unknown>, tableColumns: TableColumn[], mapping: MappingEntry[] | undefined): JsonColumns {
  const header: string[] = [];
  const accessors: Accessor[] = [];
  const kinds: ValueKind[] = [];
  if (mapping) {
    for (const entry of mapping) {
      if (typeof entry.source === 'number') throw new DataError(`mapping source ${entry.source}: JSON properties are named, not numbered; use a name or a path like "$.a.b"`, {});
      const column = findColumn(tableColumns, entry.sink);
      header.push(entry.source);
      accessors.push(accessor(parseJsonPath(entry.source)));
      kinds.push(kindOf(column === 'ambiguous' ? undefined : column));
    }
    return { header, accessors, kinds, texts: kinds.map(fieldText) };
  }
  const writable = tableColumns.filter((c) => c.writable);
  for (const name of Object.keys(first)) {
    const column = findColumn(writable, name);
    if (!column || column === 'ambiguous') continue;
    header.push(name);
    accessors.push(accessor([name]));
    kinds.push(kindOf(column));
  }
  if (!header.length) {
    throw new DataError(
      `no property of the first record matches a table column (properties: ${Object.keys(first).join(', ')}; table: ${writable.map((c) => c.name).join(', ')}); add a mapping`,
      { line: 1 },
    );
  }
  return { header, accessors, kinds, texts: kinds.map(fieldText) };
}

/** Cuts records out of the byte stream and hands each to `onRecord` with its file line. */
interface Splitter {
  push(chunk: Buffer): void;
  end(): void;
}

type OnRecord = (record: unknown, line: number) => void;
/** Skip mode: a record that is not a JSON object (its file line, its text, why). */
type OnBadRecord = (line: number, raw: string, reason: string) => void;

function isBlank(text: string): boolean {
  // Most lines start with "{": no trim (and no new string) for them.
  return text.length === 0 || (text.charCodeAt(0) !== OPEN_BRACE && text.trim() === '');
}

class LinesSplitter implements Splitter {
  private leftover: Buffer = Buffer.alloc(0);
  private line = 0;
  constructor(
    private readonly onRecord: OnRecord,
    private readonly onBad?: OnBadRecord,
  ) {}

  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(LF);
    if (last < 0) {
      this.leftover = Buffer.concat([this.leftover, chunk]);
      if (this.leftover.length > MAX_RECORD_BYTES) throw new DataError(`a line is longer than ${MAX_RECORD_BYTES} bytes`, { line: this.line + 1 });
      return;
    }
    const whole = this.leftover.length ? Buffer.concat([this.leftover, chunk.subarray(0, last)]) : chunk.subarray(0, last);
    this.leftover = Buffer.from(chunk.subarray(last + 1));
    const lines = whole.toString('utf8').split('\n');
    for (const text of lines) this.parse(text);
  }

  end(): void {
    if (this.leftover.length) this.parse(this.leftover.toString('utf8'));
    this.leftover = Buffer.alloc(0);
  }

  private parse(text: string): void {
    this.line++;
    if (isBlank(text)) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const reason = `invalid JSON: ${(err as Error).message}`;
      if (this.onBad) return this.onBad(this.line, text.endsWith('\r') ? text.slice(0, -1) : text, reason);
      throw new DataError(reason, { line: this.line }, { cause: err });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const reason = `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`;
      if (this.onBad) return this.onBad(this.line, text.trim(), reason);
      throw new DataError(reason, { line: this.line });
    }
    this.onRecord(value, this.line);
  }
}

const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * A top-level array of objects, or objects one after another. Tracks string/escape state
 * and nesting depth byte by byte; only the bytes of the record in progress are kept.
 */
class ObjectScanner implements Splitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Absolute offset of pending[0]. */
  private base = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Offset in `pending` where the current record starts, or -1. */
  private recordStart = -1;
  private recordLine = 0;
  private line = 1;
  /** Array mode: the top-level `[` seen / the closing `]` seen; expecting a value after `,`. */
  private arrayOpen = false;
  private arrayClosed = false;
  private expectValue = true;
  private records = 0;

  constructor(
    private readonly array: boolean,
    private readonly onRecord: OnRecord,
    private readonly onBad?: OnBadRecord,
  ) {}

  private fail(message: string, offset: number): never {
    throw new DataError(`invalid JSON at byte offset ${offset}: ${message}`, { line: this.line });
  }

  push(chunk: Buffer): void {
    const buf = this.recordStart >= 0 ? Buffer.concat([this.pending.subarray(this.recordStart), chunk]) : chunk;
    const scanFrom = this.recordStart >= 0 ? this.pending.length - this.recordStart : 0;
    this.base += this.recordStart >= 0 ? this.recordStart : this.pending.length;
    this.recordStart = this.recordStart >= 0 ? 0 : -1;
    this.pending = buf;
    const base = this.array ? 1 : 0;
    for (let i = scanFrom; i < buf.length; i++) {
      const byte = buf[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      if (byte === LF) {
        this.line++;
        continue;
      }
      if (this.depth > base) {
        if (byte === QUOTE) this.inString = true;
        else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
        else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
          this.depth--;
          if (this.depth === base) this.emit(buf, i + 1);
        }
        continue;
      }
      if (isWhitespace(byte)) continue;
      // At the top level (or directly inside the top-level array).
      if (this.array && !this.arrayOpen) {
        if (byte !== OPEN_BRACKET) this.fail('expected "["', this.base + i);
        this.arrayOpen = true;
        this.depth = 1;
        continue;
      }
      if (this.arrayClosed || (this.array && this.depth === 0)) this.fail('unexpected data after the closing "]"', this.base + i);
      if (byte === OPEN_BRACE) {
        if (this.array && !this.expectValue) this.fail('expected "," or "]" between elements', this.base + i);
        this.recordStart = i;
        this.recordLine = this.line;
        this.depth++;
        this.expectValue = false;
      } else if (this.array && byte === COMMA && !this.expectValue) {
        this.expectValue = true;
      } else if (this.array && byte === CLOSE_BRACKET && (!this.expectValue || this.records === 0)) {
        this.depth = 0;
        this.arrayClosed = true;
      } else {
        this.fail(`expected ${this.array ? 'an object, "," or "]"' : 'an object'}, got ${JSON.stringify(String.fromCharCode(byte))}`, this.base + i);
      }
    }
    if (this.recordStart < 0) {
      this.base += this.pending.length;
      this.pending = Buffer.alloc(0);
    } else if (this.pending.length - this.recordStart > MAX_RECORD_BYTES) {
      this.fail(`an object is longer than ${MAX_RECORD_BYTES} bytes`, this.base + this.recordStart);
    }
  }

  private emit(buf: Buffer, end: number): void {
    const start = this.recordStart;
    let value: unknown;
    const text = buf.toString('utf8', start, end);
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (this.onBad) {
        // The object's boundaries are sound (the scanner found them), only its content is not.
        this.records++;
        this.recordStart = -1;
        return this.onBad(this.recordLine, text, `invalid JSON at byte offset ${this.base + start}: ${(err as Error).message}`);
      }
      this.line = this.recordLine;
      this.fail((err as Error).message, this.base + start);
    }
    this.records++;
    this.recordStart = -1;
    this.onRecord(value, this.recordLine);
  }

  end(): void {
    if (this.inString || this.depth > (this.array ? 1 : 0) || this.recordStart >= 0) this.fail('the file ends inside an object', this.base + this.pending.length);
    if (this.array && !this.arrayClosed) this.fail(this.arrayOpen ? 'the file ends before the closing "]"' : 'empty file', this.base + this.pending.length);
  }
}

export interface JsonDecodeResult {
  header: string[];
  fieldCount: number;
  body: Readable;
  lineOf(record: number): number;
  /** Skip mode: `body` is in the tagged stage layout (see JsonDecodeOptions). */
  tagged: boolean;
}

export interface JsonDecodeOptions {
  /**
   * `faultTolerance.skipIncompatibleRows`: a line (an array element) that is not a JSON
   * object is kept as a bad record instead of failing the file. The body then has the tagged
   * stage's layout (sink/staging.ts) — `file line, reason, raw text, f1 … fN`, reason and
   * raw empty for a good record — the layout RecordTagger gives CSV, so the bad line goes
   * through skipBadRows into the same skipped-row log as a bad CSV row, and every staged
   * row carries its true file line (blank lines and multi-line values included).
   */
  skipBadRecords?: boolean;
}

/** Bad records seen before the first good one (which fixes the columns) are held; at most this many. */
const MAX_PENDING_BAD = 1000;

/**
 * Detects the layout, reads up to the first record (to learn the columns), then streams
 * the rest as CSV. A file with no record gives fieldCount 0.
 */
export async function decodeJson(
  reader: ByteReader,
  tableColumns: TableColumn[],
  mapping: MappingEntry[] | undefined,
  options: JsonDecodeOptions = {},
): Promise<JsonDecodeResult> {
  const tagged = options.skipBadRecords === true;
  const head = await reader.ensure(3);
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) reader.consume(3);
  // Skip leading whitespace to see the first significant byte.
  let first = -1;
  for (;;) {
    const buf = reader.buffer;
    let i = 0;
    while (i < buf.length && isWhitespace(buf[i]!)) i++;
    if (i < buf.length) {
      first = buf[i]!;
      break;
    }
    if (!(await reader.fill())) break;
  }
  const empty = { header: [], fieldCount: 0, body: reader.rest(), lineOf: (n: number) => n, tagged: false };
  if (first < 0) return empty;
  if (first !== OPEN_BRACKET && first !== OPEN_BRACE) {
    throw new DataError(`not JSON: the file starts with ${JSON.stringify(String.fromCharCode(first))}, not "{" or "["`, { line: 1 });
  }

  let mode: 'lines' | 'array' | 'objects' = 'array';
  if (first === OPEN_BRACE) {
    // JSON Lines when the first non-blank line is a whole object; else concatenated objects.
    let newline = reader.buffer.indexOf(LF);
    while (newline < 0 && reader.buffer.length < MAX_RECORD_BYTES && (await reader.fill())) newline = reader.buffer.indexOf(LF);
    const firstLine = reader.buffer.toString('utf8', 0, newline < 0 ? reader.buffer.length : newline);
    mode = 'objects';
    try {
      const parsed: unknown = JSON.parse(firstLine.trim() || 'null');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) mode = 'lines';
    } catch {
      // Not a one-line object: concatenated (pretty-printed) objects. In skip mode, a bad
      // first line that still looks like one record (`{…}` on one line) is JSON Lines.
      const trimmed = firstLine.trim();
      if (tagged && trimmed.endsWith('}')) mode = 'lines';
    }
  }

  const lines = new LineIndex();
  let records = 0;
  let columns: JsonColumns | undefined;
  const out = new CsvChunker();
  let pendingBad: Array<{ line: number; raw: string; reason: string }> = [];
  const pushBad = (line: number, raw: string, reason: string) => {
    // The tagged layout of a bad record: line, reason, raw, then N empty (NULL) fields.
    out.push(`${line},${csvText(reason)},${csvText(raw)}${','.repeat(columns!.header.length)}\n`);
    lines.add(++records, line);
  };
  const flushPending = () => {
    for (const bad of pendingBad) pushBad(bad.line, bad.raw, bad.reason);
    pendingBad = [];
  };
  const onRecord: OnRecord = (value, line) => {
    const record = value as Record<string, unknown>;
    if (!columns) {
      columns = jsonColumns(record, tableColumns, mapping);
      flushPending();
    }
    const { accessors, texts } = columns;
    let text = texts[0]!(accessors[0]!(record));
    for (let f = 1; f < accessors.length; f++) text += ',' + texts[f]!(accessors[f]!(record));
    out.push(tagged ? `${line},,,${text}\n` : text + '\n');
    lines.add(++records, line);
  };
  const onBad: OnBadRecord | undefined = !tagged
    ? undefined
    : (line, raw, reason) => {
        if (columns) return pushBad(line, raw, reason);
        pendingBad.push({ line, raw, reason });
        if (pendingBad.length > MAX_PENDING_BAD) {
          throw new DataError(`no valid JSON object in the first ${MAX_PENDING_BAD} records; the first: ${pendingBad[0]!.reason}`, { line: pendingBad[0]!.line });
        }
      };
  const splitter: Splitter = mode === 'lines' ? new LinesSplitter(onRecord, onBad) : new ObjectScanner(mode === 'array', onRecord, onBad);
  const source = reader.rest()[Symbol.asyncIterator]() as AsyncIterator<Buffer>;

  // Read until the first record fixes the columns (or the file ends).
  let ended = false;
  while (!columns && !ended) {
    const next = await source.next();
    if (next.done) {
      splitter.end();
      ended = true;
    } else splitter.push(next.value);
  }
  if (!columns && pendingBad.length) {
    // Only bad records: the mapping alone names the fields; without one, nothing can be staged.
    if (!mapping) throw new DataError(`no valid JSON object in the file (${pendingBad.length} bad); the first: ${pendingBad[0]!.reason}`, { line: pendingBad[0]!.line });
    columns = jsonColumns({}, tableColumns, mapping);
    flushPending();
  }
  if (!columns) return { ...empty, body: Readable.from([]) };
  const header = columns.header;

  const body = Readable.from(
    (async function* () {
      let chunk = out.take();
      if (chunk) yield chunk;
      while (!ended) {
        const next = await source.next();
        if (next.done) {
          splitter.end();
          ended = true;
        } else splitter.push(next.value);
        chunk = out.take(ended);
        if (chunk) yield chunk;
      }
      chunk = out.take(true);
      if (chunk) yield chunk;
    })(),
    { objectMode: false },
  );
  return { header, fieldCount: header.length, body, lineOf: (record) => lines.lineOf(record), tagged };
}
