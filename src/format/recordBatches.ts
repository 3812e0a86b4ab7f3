/**
 * Cuts a CSV byte stream into batches of at most N whole records, without decoding a
 * field: only quote, escape and newline bytes are looked at, with Buffer.indexOf doing the
 * scanning. Records are split where PostgreSQL's own CSV reader splits them (a quote
 * toggles "inside quotes" wherever it appears), so `COPY` of each batch sees exactly the
 * records it would have seen in one piece. Used by BulkInsert to stage one batch at a time.
 */
const LF = 0x0a;

export interface RecordBatch {
  /** Whole records, line ends included. */
  bytes: Buffer;
  records: number;
}

export interface RecordBatchOptions {
  quote: string;
  escape: string;
  maxRecords: number;
}

/** Scanner state carried across chunks. */
class RecordScanner {
  private inQuotes = false;
  private readonly q: number;
  private readonly e: number;

  constructor(options: RecordBatchOptions) {
    this.q = Buffer.from(options.quote)[0]!;
    this.e = Buffer.from(options.escape)[0]!;
  }

  /**
   * Scans `buf` from `pos` for up to `want` record ends; returns the offset just past the
   * last complete record found and how many were found. State persists for the next call
   * (which must continue from the returned offset or later bytes of the same stream).
   */
  scan(buf: Buffer, pos: number, want: number): { end: number; records: number; resumeAt: number } {
    let records = 0;
    let end = pos;
    // Next quote at or after `pos` (cached: recomputing it per newline would be quadratic).
    let nextQuote = -2;
    while (records < want && pos < buf.length) {
      if (this.inQuotes) {
        const quote = buf.indexOf(this.q, pos);
        const escape = this.e === this.q ? -1 : buf.indexOf(this.e, pos);
        if (escape !== -1 && (quote === -1 || escape < quote)) {
          if (escape + 1 >= buf.length) return { end, records, resumeAt: escape };
          pos = escape + 2;
          continue;
        }
        if (quote === -1) return { end, records, resumeAt: buf.length };
        this.inQuotes = false;
        pos = quote + 1;
        nextQuote = -2;
        continue;
      }
      if (nextQuote !== -1 && nextQuote < pos) nextQuote = buf.indexOf(this.q, pos);
      const newline = buf.indexOf(LF, pos);
      if (nextQuote !== -1 && (newline === -1 || nextQuote < newline)) {
        this.inQuotes = true;
        pos = nextQuote + 1;
        continue;
      }
      if (newline === -1) return { end, records, resumeAt: buf.length };
      records++;
      pos = end = newline + 1;
    }
    return { end, records, resumeAt: pos };
  }
}

/** Yields batches of at most `maxRecords` records; a last record without a line end counts too. */
export async function* recordBatches(source: AsyncIterable<Buffer>, options: RecordBatchOptions): AsyncGenerator<RecordBatch> {
  const scanner = new RecordScanner(options);
  let pending: Buffer[] = [];
  let pendingRecords = 0;
  let carry: Buffer = Buffer.alloc(0);
  let scanFrom = 0;
  for await (const chunk of source) {
    let buf: Buffer = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const { end, records, resumeAt } = scanner.scan(buf, scanFrom, options.maxRecords - pendingRecords);
      if (records) {
        pending.push(buf.subarray(start, end));
        pendingRecords += records;
        start = end;
      }
      scanFrom = resumeAt;
      if (pendingRecords === options.maxRecords) {
        yield { bytes: Buffer.concat(pending), records: pendingRecords };
        pending = [];
        pendingRecords = 0;
        continue;
      }
      break;
    }
    carry = buf.subarray(start);
    scanFrom -= start;
    buf = carry;
  }
  if (carry.length) {
    pending.push(carry);
    pendingRecords++;
  }
  if (pendingRecords) yield { bytes: Buffer.concat(pending), records: pendingRecords };
}
