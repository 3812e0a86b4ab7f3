/**
 * CSV column splitter: splits a batch of whole CSV records (as cut by recordBatches) into columns: each field's
 * bytes, quotes removed, go to its column's builder (for BulkInsert: one bound array
 * parameter per column, see src/sink/arrayParams.ts). Follows PostgreSQL's CSV reader
 * (CopyReadAttributesCSV): a quote toggles "inside quotes" anywhere in a field, inside quotes
 * the escape character escapes only a following quote or escape, and a field is NULL when it
 * was never quoted and equals the NULL string.
 *
 * Anything this splitter does not reproduce exactly — a record with the wrong number of
 * fields, a bare CR inside a record, a line-ending style that changes within the batch, an
 * unterminated quote — is refused as `{ malformed: true }`: the caller then sends the batch through COPY,
 * which accepts it or names the offending line itself.
 */
import { BACKSLASH, CR, dialectOf, DQUOTE, LF } from './dialect.js';
import { scanField } from './scanner.js';

export interface CsvColumnOptions {
  delimiter: string;
  quote: string;
  escape: string;
  null: string;
  fieldCount: number;
}


/** True when the splitter can handle these options (single ASCII delimiter/quote/escape). */
export function csvColumnsSupported(options: Omit<CsvColumnOptions, 'fieldCount'>): boolean {
  const ascii = (s: string) => s.length === 1 && s.charCodeAt(0) < 128 && s.charCodeAt(0) !== LF && s.charCodeAt(0) !== CR;
  return ascii(options.delimiter) && ascii(options.quote) && ascii(options.escape) && options.delimiter !== options.quote;
}

/**
 * Receives one column's values of a batch, in record order. A value arrives as value(), or
 * (a quoted field) as open(), bytes() pieces with the quoting removed, close(); or as null().
 */
export interface ColumnBuilder<T = unknown> {
  /** Starts a batch of `records` values, about `bytes` bytes of them. */
  begin(bytes: number, records: number): void;
  /** A whole non-NULL value in one piece (the common unquoted field): open(), bytes(), close() in one call. */
  value(src: Buffer, from: number, to: number, plain: boolean): boolean;
  open(): void;
  /** `plain`: the piece holds no `"` or `\` (a builder that escapes them may copy it as is). */
  bytes(src: Buffer, from: number, to: number, plain: boolean): void;
  /** Ends the value; false when this builder cannot represent it (the caller picks another). */
  close(): boolean;
  null(): void;
  /** The batch's column. */
  end(): T;
}

/** Why a batch was not split: `malformed` (only COPY should judge it) or the index of a column whose builder refused a value. */
export type SplitRefusal = { malformed: true } | { declined: number };

/**
 * Reusable splitter for one load: `split(bytes, records, builders)` feeds each field of a
 * batch of whole records (the last may lack its line end) to its column's builder and returns
 * their end() values, or why it could not. Works on the UTF-8 bytes (delimiter, quote and
 * escape are ASCII, so they never occur inside a multi-byte character).
 */
export function csvColumnSplitter(options: CsvColumnOptions): <T>(bytes: Buffer, records: number, builders: ColumnBuilder<T>[]) => T[] | SplitRefusal {
  const dialect = dialectOf(options);
  const d = dialect.delimiter;
  const q = dialect.quote;
  const nullBytes = Buffer.from(options.null, 'utf8');
  const nullLen = nullBytes.length;
  const n = options.fieldCount;
  const malformed: SplitRefusal = { malformed: true };

  return <T>(text: Buffer, records: number, cols: ColumnBuilder<T>[]): T[] | SplitRefusal => {
    const len = text.length;
    for (const col of cols) col.begin(Math.ceil(len / n), records);
    // The builder a quoted field's pieces go to (one closure per batch, not per field).
    let pieceColumn: ColumnBuilder<T> = cols[0]!;
    const piece = (from: number, to: number) => pieceColumn.bytes(text, from, to, false);
    let pos = 0;
    let crlf: boolean | undefined;
    let seen = 0;
    while (pos < len) {
      let field = 0;
      for (;;) {
        if (field >= n) return malformed; // extra data after the last column
        const col = cols[field]!;
        let stop = pos;
        let c = 0;
        let plain = true;
        // Fast path: scan an unquoted run.
        while (stop < len) {
          c = text[stop]!;
          if (c === d || c === LF || c === CR || c === q) break;
          if (c === BACKSLASH || c === DQUOTE) plain = false;
          stop++;
        }
        if (stop < len && c === q) {
          // Slow path: the field has quotes somewhere; hand it over piecewise.
          col.open();
          if (stop > pos) col.bytes(text, pos, stop, plain);
          pieceColumn = col;
          const fieldEnd = scanField(text, stop, dialect, true, piece);
          if (fieldEnd < 0) return malformed; // unterminated quote
          if (!col.close()) return { declined: field };
          stop = fieldEnd;
          c = stop < len ? text[stop]! : 0;
        } else if (stop - pos === nullLen && (nullLen === 0 || text.compare(nullBytes, 0, nullLen, pos, stop) === 0)) {
          col.null();
        } else {
          if (!col.value(text, pos, stop, plain)) return { declined: field };
        }
        field++;
        if (stop >= len) {
          pos = len;
          break;
        }
        if (c === d) {
          pos = stop + 1;
          continue;
        }
        // Record end: LF or CRLF, the same style throughout the batch.
        let isCrlf = false;
        if (c === CR) {
          if (stop + 1 >= len || text[stop + 1] !== LF) return malformed;
          isCrlf = true;
        }
        if (crlf === undefined) crlf = isCrlf;
        else if (crlf !== isCrlf) return malformed;
        pos = stop + (isCrlf ? 2 : 1);
        break;
      }
      if (field !== n) return malformed; // missing data for a column
      seen++;
      if (seen > records) return malformed;
    }
    if (seen !== records) return malformed;
    return cols.map((col) => col.end());
  };
}
