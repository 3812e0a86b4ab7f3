/**
 * CSV record batches and counts: cuts a CSV byte stream into batches of at most N whole
 * records without decoding a field (BoundaryScanner: only quote, escape and newline bytes
 * are looked at, with Buffer.indexOf doing the scanning). Records are split where
 * PostgreSQL's own CSV reader splits them, so `COPY` of each batch sees exactly the
 * records it would have seen in one piece. Used by BulkInsert to stage one batch at a time,
 * and (RecordCounter) to count each small blob's records when a group shares one COPY.
 */
import { byteOf, CR, LF } from './dialect.js';
import { BoundaryScanner } from './scanner.js';

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

/** Yields batches of at most `maxRecords` records; a last record without a line end counts too. */
export async function* recordBatches(source: AsyncIterable<Buffer>, options: RecordBatchOptions): AsyncGenerator<RecordBatch> {
  const scanner = new BoundaryScanner({ quote: byteOf(options.quote), escape: byteOf(options.escape) });
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

/**
 * Counts a CSV stream's records as COPY will, chunk by chunk: whole records, plus a last one
 * without a line end. Also tells how the stream ends — inside a quoted field, or without a
 * line end (and which line end the file uses) — which decides whether another file's
 * records may follow it in the same COPY.
 */
export class RecordCounter {
  private readonly scanner: BoundaryScanner;
  private complete = 0;
  /** Unscanned bytes of the previous chunk: an escape byte whose next byte had not arrived. */
  private carry: Buffer | undefined;
  private lastByte = -1;
  private firstLineEnd: '\n' | '\r\n' | undefined;

  constructor(options: Pick<RecordBatchOptions, 'quote' | 'escape'>) {
    this.scanner = new BoundaryScanner({ quote: byteOf(options.quote), escape: byteOf(options.escape) });
  }

  /** The stream's next chunk. */
  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    const { records, resumeAt } = this.scanner.scan(buf, 0, Infinity);
    this.complete += records;
    this.carry = resumeAt < buf.length ? Buffer.from(buf.subarray(resumeAt)) : undefined;
    if (this.firstLineEnd === undefined) {
      const lf = chunk.indexOf(LF);
      if (lf !== -1) this.firstLineEnd = (lf > 0 ? chunk[lf - 1] : this.lastByte) === CR ? '\r\n' : '\n';
    }
    this.lastByte = chunk[chunk.length - 1]!;
  }

  /** Records in the bytes so far, a last one without a line end included. */
  get records(): number {
    return this.complete + (this.unterminated ? 1 : 0);
  }

  /** The last record has no line end: another file's first record would run into it. */
  get unterminated(): boolean {
    return this.lastByte !== -1 && this.lastByte !== LF;
  }

  /** The bytes end inside a quoted field (COPY would read on into whatever follows). */
  get endsInsideQuotes(): boolean {
    return this.scanner.insideQuotes || this.carry !== undefined;
  }

  /** The line end to add after an unterminated last record: the file's own. */
  get lineEnd(): string {
    return this.firstLineEnd ?? '\n';
  }
}
