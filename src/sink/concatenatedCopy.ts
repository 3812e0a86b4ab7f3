/**
 * One COPY for the CSV bodies of many small files, one after another, each file's records
 * counted on the way. Why: PostgreSQL's COPY sets up its multi-insert buffer again in every
 * COPY, so 1,000 COPYs of 1,000 rows cost several times the server CPU of one COPY of the
 * same 1,000,000 rows (figures in bench/README.md); a group of small blobs loaded through one COPY costs
 * what one blob of their size costs.
 *
 * The records are counted by the scanner that cuts BulkInsert's batches (it splits records
 * where COPY splits them), so each file still gets its own row count. A file may follow
 * another only at a record boundary: one that ends inside a quoted field refuses the
 * concatenation, one without a last line end gets the file's own line end added. At the
 * end COPY's own count must equal the sum of the files' counts — a `\.` line, a file with
 * CR line ends, anything the scanner sees differently from COPY — or the concatenation is
 * refused. A refusal (ConcatenationRefused) or a COPY error tells the caller to roll back
 * and load the files one by one, which gives each its own error with line and column.
 *
 * Which file an error belongs to: the server reports errors asynchronously (the client may
 * be files ahead), so fileAt() maps the COPY line the server reports to the file whose
 * records hold it; an error without a line (a lost connection) belongs to the file being
 * sent.
 */
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import type { CopyStreamQuery } from 'pg-copy-streams';
import type { CsvCopyOptions } from '../format/delimited.js';
import { parseCopyContext } from '../errors.js';
import { RecordCounter } from '../format/recordBatches.js';
import { openCopy } from './copy.js';

/** The files cannot share one COPY; load them one by one. */
export class ConcatenationRefused extends Error {}

export class ConcatenatedCopy {
  private copy: CopyStreamQuery | undefined;
  /** Columns and options of the open COPY: a file with others starts a new COPY. */
  private shape = '';
  /** Records counted into the open COPY. */
  private counted = 0;
  /** An error the open COPY reported while no file was streaming into it. */
  private failure: Error | undefined;
  /** The files of the open (or last) COPY, in order: the caller's tag and the COPY line of its first record. */
  private files: Array<{ file: number; firstLine: number }> = [];
  /** The tag of the file being streamed, if one is. */
  private sending: number | undefined;

  constructor(
    private readonly client: pg.ClientBase,
    /** Quoted table name. */
    private readonly target: string,
  ) {}

  /** Streams one file's CSV records into the COPY; returns how many records it had. `file` tags it for fileAt(). */
  async append(body: Readable, columns: readonly string[], options: CsvCopyOptions, file: number): Promise<number> {
    // Text format (unquoted files with backslash escapes) is not scanned the way COPY reads it.
    if (options.format === 'text') throw new ConcatenationRefused('COPY format text is not concatenated');
    const shape = JSON.stringify([columns, options]);
    if (this.copy && shape !== this.shape) await this.endCopy();
    const copy = this.copy ?? this.startCopy(columns, options, shape);
    this.files.push({ file, firstLine: this.counted + 1 });
    this.sending = file;
    const counter = new RecordCounter(options);
    // Written by hand rather than with pipeline(): the COPY stays open for the next file,
    // and pipeline({ end: false }) leaves its listeners on the destination each time.
    for await (const chunk of body as AsyncIterable<Buffer>) {
      counter.add(chunk);
      await this.write(copy, chunk);
    }
    if (counter.endsInsideQuotes) throw new ConcatenationRefused('a file ends inside a quoted field');
    if (counter.unterminated) await this.write(copy, Buffer.from(counter.lineEnd));
    this.counted += counter.records;
    this.sending = undefined;
    return counter.records;
  }

  /**
   * The file an error of this COPY belongs to, and the COPY line of that file's first
   * record: by the COPY line the server reports; without one, the file being sent.
   */
  fileAt(err: unknown): { file: number; firstLine?: number } | undefined {
    const line = parseCopyContext((err as { where?: string }).where)?.line;
    if (line !== undefined) {
      const owner = this.files.findLast((f) => f.firstLine <= line);
      if (owner) return owner;
    }
    return this.sending === undefined ? undefined : { file: this.sending };
  }

  /**
   * Writes one chunk and waits until the COPY stream has passed it to the socket: backpressure
   * without a bare 'drain' wait. The callback alone is not enough either: pg-copy-streams
   * calls it on the socket's 'drain', which a reset socket never emits, and reports the lost
   * connection as an 'error' on the COPY stream instead (copy-from.js handleError) — so
   * whichever comes first settles the write.
   */
  private async write(copy: CopyStreamQuery, chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(this.failure ?? err);
      copy.once('error', onError);
      copy.write(chunk, (err) => {
        copy.off('error', onError);
        if (err) reject(this.failure ?? err);
        else resolve();
      });
    });
  }

  /** Ends the open COPY and checks its count; throws ConcatenationRefused or COPY's error. */
  async finish(): Promise<void> {
    if (this.copy) await this.endCopy();
  }

  /** After a failure: abandons the open COPY (the server aborts it; the caller rolls back). */
  abort(): void {
    this.copy?.destroy();
    this.copy = undefined;
  }

  private startCopy(columns: readonly string[], options: CsvCopyOptions, shape: string): CopyStreamQuery {
    const copy = openCopy(this.client, this.target, columns, options);
    // Between files nothing listens to the stream; keep its error for the next call.
    copy.on('error', (err) => (this.failure ??= err));
    this.copy = copy;
    this.shape = shape;
    this.counted = 0;
    this.files = [];
    this.failure = undefined;
    return copy;
  }

  private async endCopy(): Promise<void> {
    const copy = this.copy!;
    this.copy = undefined;
    copy.end();
    await finished(copy);
    if (copy.rowCount !== this.counted) {
      throw new ConcatenationRefused(`COPY loaded ${copy.rowCount} rows where the files' records add up to ${this.counted}`);
    }
  }
}
