/**
 * Used only when `faultTolerance.skipIncompatibleRows` is on. PostgreSQL's COPY aborts on
 * a record with the wrong number of fields (no soft-error mode for that — ON_ERROR only
 * covers type input), so the records are split here, CSV-aware, and re-emitted for a
 * staging table `(line, bad, raw, f1 … fN)`:
 *  - a good record passes through byte for byte, prefixed by its file line and two empty fields;
 *  - a record with the wrong field count becomes `line,"reason","raw record",,,…` (N empty fields).
 * Only field boundaries are scanned; no field is decoded. The off path never comes here.
 */
import { Transform, type TransformCallback } from 'node:stream';

const LF = 0x0a;
const CR = 0x0d;

export interface RecordTaggerOptions {
  delimiter: string;
  quote: string;
  escape: string;
  /** Fields every record must have. */
  fieldCount: number;
  /** File lines before the first byte of the stream. */
  lineOffset: number;
}

export class RecordTagger extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  /** File line of the next record's first byte. */
  private line: number;
  private readonly d: number;
  private readonly q: number;
  private readonly e: number;
  private readonly emptyFields: string;
  /** The file's line end, taken from its first record: COPY insists on one style. */
  private eol: string | undefined;
  /** Records seen, good or bad. */
  records = 0;
  lastLine = 0;

  constructor(private readonly options: RecordTaggerOptions) {
    super();
    this.d = Buffer.from(options.delimiter)[0]!;
    this.q = Buffer.from(options.quote)[0]!;
    this.e = Buffer.from(options.escape)[0]!;
    this.line = options.lineOffset + 1;
    this.emptyFields = options.delimiter.repeat(options.fieldCount);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const consumed = this.scan(buf, false);
    this.carry = Buffer.from(buf.subarray(consumed));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.carry.length) this.scan(this.carry, true);
    this.carry = Buffer.alloc(0);
    callback();
  }

  /** Emits every complete record in `buf`; returns the bytes consumed. */
  private scan(buf: Buffer, atEof: boolean): number {
    const out: Buffer[] = [];
    const { d, q, e } = this;
    let start = 0;
    let i = 0;
    let inQuotes = false;
    let fields = 1;
    let newlines = 0;
    while (i < buf.length) {
      const byte = buf[i]!;
      if (inQuotes) {
        if (byte === e && e !== q) {
          i += 2;
          continue;
        }
        if (byte === q) {
          if (e === q && buf[i + 1] === q) {
            i += 2;
            continue;
          }
          if (e === q && i + 1 >= buf.length && !atEof) break; // cannot tell "" from " yet
          inQuotes = false;
        } else if (byte === LF) newlines++;
        i++;
        continue;
      }
      if (byte === q) inQuotes = true;
      else if (byte === d) fields++;
      else if (byte === LF) {
        this.emitRecord(out, buf.subarray(start, i + 1), fields, false);
        this.line += newlines + 1;
        start = i + 1;
        fields = 1;
        newlines = 0;
      }
      i++;
    }
    if (atEof && start < buf.length) {
      // Last record without a line end (or an unterminated quoted field).
      this.emitRecord(out, buf.subarray(start), inQuotes ? -1 : fields, true);
      start = buf.length;
    }
    if (out.length) this.push(out.length === 1 ? out[0]! : Buffer.concat(out));
    return start;
  }

  private emitRecord(out: Buffer[], record: Buffer, fields: number, unterminated: boolean): void {
    this.records++;
    this.lastLine = this.line;
    const crlf = !unterminated && record.length > 1 && record[record.length - 2] === CR;
    if (!unterminated) this.eol ??= crlf ? '\r\n' : '\n';
    const eol = unterminated ? (this.eol ?? '\n') : crlf ? '\r\n' : '\n';
    const { delimiter } = this.options;
    if (fields === this.options.fieldCount) {
      out.push(Buffer.from(`${this.line}${delimiter}${delimiter}${delimiter}`), record);
      if (unterminated) out.push(Buffer.from(eol));
      return;
    }
    const body = record.subarray(0, record.length - (unterminated ? 0 : crlf ? 2 : 1));
    const reason =
      fields < 0 ? 'unterminated quoted field at end of file' : `expected ${this.options.fieldCount} fields, found ${fields}`;
    out.push(Buffer.from(`${this.line}${delimiter}${this.quoted(Buffer.from(reason))}${delimiter}${this.quoted(body)}${this.emptyFields}${eol}`));
  }

  /** A CSV-quoted field with quote (and escape) characters escaped. */
  private quoted(bytes: Buffer): string {
    const { quote, escape } = this.options;
    let text = bytes.toString('utf8');
    if (escape !== quote) text = text.split(escape).join(escape + escape);
    text = text.split(quote).join(escape + quote);
    return `${quote}${text}${quote}`;
  }
}
