/** The interface every write method implements (one file per method). */
import type { Readable } from 'node:stream';
import type pg from 'pg';
import type { CsvCopyOptions } from '../format/delimited.js';
import type { ResolvedMapping } from '../pipeline/mapping.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { BlobRef } from '../source/blobs.js';
import type { TableInfo } from '../pipeline/table.js';

export interface WriteRequest {
  /** A client inside the blob's open transaction. */
  client: pg.ClientBase;
  spec: PipelineSpec;
  table: TableInfo;
  mapping: ResolvedMapping;
  /** CSV records, header and skipped lines already removed. */
  body: Readable;
  copyOptions: CsvCopyOptions;
  /** File lines before `body`'s first byte: COPY's line N is file line N + lineOffset. */
  lineOffset: number;
  /**
   * Skip mode only: `body` is already in the tagged stage layout (`line, bad, raw, f1 … fN`),
   * as the JSON decoder writes it, so it is staged as is instead of through RecordTagger.
   */
  tagged?: boolean;
  /** The blob being loaded ($$FILEPATH, $$ETAG … additional columns). */
  blob: BlobRef;
  runId: string;
}

export interface WriteCounters {
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
  /**
   * Skip mode: a temp table `(line, column, value, reason)` of the skipped rows, alive
   * until the transaction ends; the caller writes it to the log container before COMMIT.
   */
  skippedRowsTable?: string;
}

export interface PrepareRequest {
  client: pg.ClientBase;
  spec: PipelineSpec;
  table: TableInfo;
}

export interface SinkWriter {
  /** Checks that need only the table, run before the blob is opened (fail before reading). */
  prepare?(request: PrepareRequest): Promise<void>;
  write(request: WriteRequest): Promise<WriteCounters>;
}
