/**
 * The one place that knows where CSV records and fields end, by PostgreSQL's COPY CSV rules
 * (CopyReadLineText / CopyReadAttributesCSV): a quote opens or closes a quoted section
 * wherever it appears in a field; inside quotes, the escape byte (when it differs from the
 * quote) takes the next byte literally — only a quote or escape is really escaped, any other
 * byte keeps the escape — and with escape = quote a doubled quote is one quote; outside
 * quotes, the delimiter ends a field and a line end ends the record.
 *
 * Two entry points over the same rules:
 *  - `BoundaryScanner`: record ends (and, on request, field counts) in a stream of chunks,
 *    state carried across chunk edges, with Buffer.indexOf (a memchr) doing the scanning:
 *    record batches and counts, the skip-mode tagger, range-split probes and proofs.
 *  - `scanField`: one field's extent and its bytes with the quoting removed: the header
 *    reader and the column splitter, which need the values.
 */
import { CR, LF, type CsvDialect } from './dialect.js';

export interface ScanResult {
  /** Offset just past the last complete record found. */
  end: number;
  /** Complete records found. */
  records: number;
  /** Where the next call must continue (bytes before it are accounted for). */
  resumeAt: number;
}

/**
 * Record ends in an LF-terminated CSV stream (a CR before the LF is part of the record's
 * bytes; lone-CR files never come here). Feed it the stream's bytes in order: each `scan`
 * continues where the previous one stopped (`resumeAt`), in the same buffer or in a buffer
 * that starts with the unscanned rest.
 */
export class BoundaryScanner {
  private inQuotes = false;
  private fieldsSoFar = 1;
  private readonly q: number;
  private readonly e: number;
  private readonly d: number;

  /** `delimiter` is needed only by scans that count fields (`onRecord`). */
  constructor(dialect: Pick<CsvDialect, 'quote' | 'escape'> & Partial<Pick<CsvDialect, 'delimiter'>>) {
    this.q = dialect.quote;
    this.e = dialect.escape;
    this.d = dialect.delimiter ?? -1;
  }

  /** The bytes scanned so far end inside a quoted field. */
  get insideQuotes(): boolean {
    return this.inQuotes;
  }

  /** Fields of the record being scanned so far (counted only by scans with `onRecord`). */
  get fields(): number {
    return this.fieldsSoFar;
  }

  /**
   * Scans `buf` from `pos` for up to `want` record ends. With `onRecord`, delimiters outside
   * quotes are counted too and each record's end offset and field count are reported.
   */
  scan(buf: Buffer, pos: number, want: number, onRecord?: (end: number, fields: number) => void): ScanResult {
    const { q, e, d } = this;
    const countFields = onRecord !== undefined;
    if (countFields && d < 0) throw new Error('BoundaryScanner: counting fields needs the delimiter');
    let records = 0;
    let end = pos;
    // Next quote / line end / delimiter / escape at or after `pos`, -1 when there is none, -2
    // not looked for yet: cached, since looking again per record would rescan the same bytes.
    let nextQuote = -2;
    let nextLf = -2;
    let nextDelimiter = -2;
    let nextEscape = -2;
    while (records < want && pos < buf.length) {
      if (this.inQuotes) {
        if (nextQuote !== -1 && nextQuote < pos) nextQuote = buf.indexOf(q, pos);
        if (e !== q && nextEscape !== -1 && nextEscape < pos) nextEscape = buf.indexOf(e, pos);
        if (e !== q && nextEscape !== -1 && (nextQuote === -1 || nextEscape < nextQuote)) {
          // The escaped byte, whatever it is, neither closes the quotes nor ends the record.
          if (nextEscape + 1 >= buf.length) return { end, records, resumeAt: nextEscape };
          pos = nextEscape + 2;
          continue;
        }
        if (nextQuote === -1) return { end, records, resumeAt: buf.length };
        this.inQuotes = false;
        pos = nextQuote + 1;
        continue;
      }
      if (nextQuote !== -1 && nextQuote < pos) nextQuote = buf.indexOf(q, pos);
      if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf(LF, pos);
      if (countFields && nextDelimiter !== -1 && nextDelimiter < pos) nextDelimiter = buf.indexOf(d, pos);
      const stop = nextLf === -1 ? buf.length : nextLf;
      if (nextQuote !== -1 && nextQuote < stop && !(countFields && nextDelimiter !== -1 && nextDelimiter < nextQuote)) {
        this.inQuotes = true;
        pos = nextQuote + 1;
        continue;
      }
      if (countFields && nextDelimiter !== -1 && nextDelimiter < stop) {
        this.fieldsSoFar++;
        pos = nextDelimiter + 1;
        continue;
      }
      if (nextLf === -1) return { end, records, resumeAt: buf.length };
      records++;
      pos = end = nextLf + 1;
      if (onRecord) {
        onRecord(end, this.fieldsSoFar);
        this.fieldsSoFar = 1;
      }
    }
    return { end, records, resumeAt: pos };
  }
}

/** scanField: the bytes end where the next byte decides (inside quotes, after an escape or a quote that may be doubled). */
export const NEED_MORE = -1;
/** scanField: the input ends inside a quoted field. */
export const UNTERMINATED = -2;

/**
 * Reads one field from `pos` (a field start, or a position inside a field outside quotes)
 * and hands its bytes, quoting removed, to `piece` in order (`quoted`: the piece was inside
 * quotes). Returns the offset of the byte that ends it — delimiter, LF or CR outside quotes
 * (the caller decides what a CR means) — or `buf.length`; NEED_MORE or UNTERMINATED when
 * the field does not end in `buf`. `atEof`: no bytes follow `buf`.
 */
export function scanField(
  buf: Buffer,
  pos: number,
  dialect: CsvDialect,
  atEof: boolean,
  piece: (from: number, to: number, quoted: boolean) => void,
): number {
  const { delimiter, quote, escape } = dialect;
  const escapeOutside = dialect.escapeOutsideQuotes;
  const len = buf.length;
  let i = pos;
  let run = pos;
  for (;;) {
    // Outside quotes.
    while (i < len) {
      const c = buf[i]!;
      if (c === delimiter || c === LF || c === CR || c === quote) break;
      if (escapeOutside && c === escape) {
        if (i + 1 >= len) {
          if (!atEof) return NEED_MORE;
          i++;
          continue;
        }
        if (i > run) piece(run, i, false);
        run = i + 1; // the escaped byte starts the next piece, whatever it is
        i += 2;
        continue;
      }
      i++;
    }
    if (i > run) piece(run, i, false);
    if (i >= len || buf[i] !== quote) return i;
    // Inside quotes.
    run = ++i;
    for (;;) {
      if (i >= len) return atEof ? UNTERMINATED : NEED_MORE;
      const c = buf[i]!;
      if (c === escape && escape !== quote) {
        if (i + 1 >= len) {
          if (!atEof) return NEED_MORE;
          i++;
          continue;
        }
        const next = buf[i + 1]!;
        if (next === quote || next === escape) {
          if (i > run) piece(run, i, true);
          run = i + 1;
          i += 2;
        } else i++;
        continue;
      }
      if (c === quote) {
        if (escape === quote) {
          if (i + 1 >= len && !atEof) return NEED_MORE;
          if (buf[i + 1] === quote) {
            piece(run, i + 1, true);
            i += 2;
            run = i;
            continue;
          }
        }
        if (i > run) piece(run, i, true);
        run = ++i;
        break;
      }
      i++;
    }
  }
}
