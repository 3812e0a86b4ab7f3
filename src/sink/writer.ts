/** The interface every write method implements (one file per method). */
import type { Readable } from 'node:stream';
import type pg from 'pg';
import type { CsvCopyOptions } from '../format/delimited.js';
import type { ResolvedMapping } from '../pipeline/mapping.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { TableInfo } from './tableInfo.js';

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
}

export interface WriteCounters {
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
}

export interface SinkWriter {
  write(request: WriteRequest): Promise<WriteCounters>;
}
