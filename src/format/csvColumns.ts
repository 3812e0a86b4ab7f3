/**
 * Splits a batch of whole CSV records (as cut by recordBatches) into one PostgreSQL array
 * literal per field: `{"a","b",NULL}`, every non-NULL element quoted with `"` and `\`
 * backslash-escaped, so array_in hands the element input function exactly the field's text
 * (no whitespace trimming, no `NULL` keyword confusion). Follows PostgreSQL's CSV reader
 * (CopyReadAttributesCSV): a quote toggles "inside quotes" anywhere in a field, inside quotes
 * the escape character escapes only a following quote or escape, and a field is NULL when it
 * was never quoted and equals the NULL string.
 *
 * Anything this splitter does not reproduce exactly — a record with the wrong number of
 * fields, a bare CR inside a record, a line-ending style that changes within the batch, an
 * unterminated quote — returns `undefined`: the caller then sends the batch through COPY,
 * which accepts it or names the offending line itself.
 */
export interface CsvColumnOptions {
  delimiter: string;
  quote: string;
  escape: string;
  null: string;
  fieldCount: number;
}

const LF = 10;
const CR = 13;

/** True when the splitter can handle these options (single ASCII delimiter/quote/escape). */
export function csvColumnsSupported(options: Omit<CsvColumnOptions, 'fieldCount'>): boolean {
  const ascii = (s: string) => s.length === 1 && s.charCodeAt(0) < 128 && s.charCodeAt(0) !== LF && s.charCodeAt(0) !== CR;
  return ascii(options.delimiter) && ascii(options.quote) && ascii(options.escape) && options.delimiter !== options.quote;
}

const BACKSLASH = 92;
const DQUOTE = 34;
const COMMA = 44;
const NULL_BYTES = Buffer.from('NULL');

/** One column's array literal, written as UTF-8 bytes into a growing buffer. */
class Literal {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 64));
  }
  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
  /** Appends src[from, to) with `"` and `\` backslash-escaped (capacity ensured by the caller). */
  append(src: Buffer, from: number, to: number, escapes: boolean): void {
    const out = this.buf;
    let o = this.pos;
    if (!escapes) {
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
}

/**
 * Reusable splitter for one load: `split(bytes, records)` returns one array literal per
 * field for a batch of whole records (the last may lack its line end), or undefined when
 * the batch must go through COPY instead. Works on the UTF-8 bytes (delimiter, quote and
 * escape are ASCII, so they never occur inside a multi-byte character).
 */
export function csvColumnSplitter(options: CsvColumnOptions): (bytes: Buffer, records: number) => string[] | undefined {
  const d = options.delimiter.charCodeAt(0);
  const q = options.quote.charCodeAt(0);
  const e = options.escape.charCodeAt(0);
  const nullBytes = Buffer.from(options.null, 'utf8');
  const nullLen = nullBytes.length;
  const n = options.fieldCount;
  let literals: Literal[] | undefined;

  return (text: Buffer, records: number) => {
    const len = text.length;
    literals ??= Array.from({ length: n }, () => new Literal(Math.ceil((len * 1.2) / n) + records * 4));
    const cols = literals;
    for (const col of cols) {
      col.pos = 0;
      col.ensure(1);
      col.buf[col.pos++] = 0x7b; // {
    }
    let pos = 0;
    let crlf: boolean | undefined;
    let seen = 0;
    while (pos < len) {
      let field = 0;
      for (;;) {
        if (field >= n) return undefined; // extra data after the last column
        const col = cols[field]!;
        let stop = pos;
        let c = 0;
        let escapes = false;
        // Fast path: scan an unquoted run.
        while (stop < len) {
          c = text[stop]!;
          if (c === d || c === LF || c === CR || c === q) break;
          if (c === BACKSLASH || c === DQUOTE) escapes = true;
          stop++;
        }
        if (seen > 0) {
          col.ensure(1);
          col.buf[col.pos++] = COMMA;
        }
        if (stop < len && c === q) {
          // Slow path: the field has quotes somewhere; write it piecewise.
          col.ensure(2 * (stop - pos) + 1);
          col.buf[col.pos++] = DQUOTE;
          col.append(text, pos, stop, escapes);
          let i = stop + 1;
          let inQuotes = true;
          for (;;) {
            if (i >= len) {
              if (inQuotes) return undefined; // unterminated quote
              break;
            }
            c = text[i]!;
            if (inQuotes) {
              if (c === e && e !== q && i + 1 < len) {
                const next = text[i + 1]!;
                if (next === q || next === e) {
                  col.ensure(2);
                  col.append(text, i + 1, i + 2, true);
                  i += 2;
                  continue;
                }
              }
              if (c === q) {
                if (e === q && i + 1 < len && text[i + 1] === q) {
                  col.ensure(2);
                  col.append(text, i, i + 1, true);
                  i += 2;
                  continue;
                }
                inQuotes = false;
                i++;
                continue;
              }
              // Run to the next quote or escape.
              let j = i + 1;
              while (j < len) {
                const cj = text[j]!;
                if (cj === q || cj === e) break;
                j++;
              }
              col.ensure(2 * (j - i));
              col.append(text, i, j, true);
              i = j;
              continue;
            }
            if (c === d || c === LF || c === CR) break;
            if (c === q) {
              inQuotes = true;
              i++;
              continue;
            }
            let j = i + 1;
            while (j < len) {
              const cj = text[j]!;
              if (cj === q || cj === d || cj === LF || cj === CR) break;
              j++;
            }
            col.ensure(2 * (j - i));
            col.append(text, i, j, true);
            i = j;
          }
          col.ensure(1);
          col.buf[col.pos++] = DQUOTE;
          stop = i;
          c = stop < len ? text[stop]! : 0;
        } else if (stop - pos === nullLen && (nullLen === 0 || text.compare(nullBytes, 0, nullLen, pos, stop) === 0)) {
          col.ensure(4);
          col.pos += NULL_BYTES.copy(col.buf, col.pos);
        } else {
          col.ensure(2 * (stop - pos) + 2);
          col.buf[col.pos++] = DQUOTE;
          col.append(text, pos, stop, escapes);
          col.buf[col.pos++] = DQUOTE;
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
          if (stop + 1 >= len || text[stop + 1] !== LF) return undefined;
          isCrlf = true;
        }
        if (crlf === undefined) crlf = isCrlf;
        else if (crlf !== isCrlf) return undefined;
        pos = stop + (isCrlf ? 2 : 1);
        break;
      }
      if (field !== n) return undefined; // missing data for a column
      seen++;
      if (seen > records) return undefined;
    }
    if (seen !== records) return undefined;
    return cols.map((col) => {
      col.ensure(1);
      col.buf[col.pos++] = 0x7d; // }
      return col.buf.toString('utf8', 0, col.pos);
    });
  };
}
