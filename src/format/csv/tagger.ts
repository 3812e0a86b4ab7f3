/**
 * Skip-mode record tagger, used only when `faultTolerance.skipIncompatibleRows` is on. PostgreSQL's COPY aborts on
 * a record with the wrong number of fields (no soft-error mode for that — ON_ERROR only
 * covers type input), so the records are split here, CSV-aware, and re-emitted for a
 * staging table `(line, bad, raw, f1 … fN)`:
 *  - a good record passes through byte for byte, prefixed by its file line and two empty fields;
 *  - a record with the wrong field count becomes `line,"reason","raw record",,,…` (N empty fields).
 * Only field boundaries are scanned (BoundaryScanner); no field is decoded. The off path never comes here.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { byteOf, CR, LF } from './dialect.js';
import { BoundaryScanner } from './scanner.js';

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
  /** Bytes of the record not yet complete (copied: a chunk is not kept alive by its tail). */
  private carry: Buffer = Buffer.alloc(0);
  /** Where the scanner resumes in `carry` + the next chunk. */
  private scanFrom = 0;
  private readonly scanner: BoundaryScanner;
  /** File line of the next record's first byte. */
  private line: number;
  private readonly emptyFields: string;
  /** The file's line end, taken from its first record: COPY insists on one style. */
  private eol: string | undefined;
  /** Records seen, good or bad. */
  records = 0;
  lastLine = 0;

  constructor(private readonly options: RecordTaggerOptions) {
    super();
    this.scanner = new BoundaryScanner({ delimiter: byteOf(options.delimiter), quote: byteOf(options.quote), escape: byteOf(options.escape) });
    this.line = options.lineOffset + 1;
    this.emptyFields = options.delimiter.repeat(options.fieldCount);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    const { resumeAt } = this.scanner.scan(buf, this.scanFrom, Infinity, (end, fields) => {
      const record = buf.subarray(start, end);
      this.emitRecord(out, record, fields, false);
      for (let lf = record.indexOf(LF); lf !== -1; lf = record.indexOf(LF, lf + 1)) this.line++;
      start = end;
    });
    this.scanFrom = resumeAt - start;
    this.carry = Buffer.from(buf.subarray(start));
    if (out.length) this.push(out.length === 1 ? out[0]! : Buffer.concat(out));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.carry.length) {
      // Last record without a line end (or an unterminated quoted field).
      const out: Buffer[] = [];
      this.emitRecord(out, this.carry, this.scanner.insideQuotes ? -1 : this.scanner.fields, true);
      this.push(Buffer.concat(out));
    }
    this.carry = Buffer.alloc(0);
    callback();
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
