/**
 * The run output, shaped like ADF's Copy activity output so the same monitoring queries
 * work: one object per run, one entry per file.
 */
import type { FileErrorOutput } from '../errors.js';

export type FileStatus = 'Succeeded' | 'Skipped' | 'Failed';
export type RunStatus = 'Succeeded' | 'PartiallySucceeded' | 'Failed';

export interface FileResult {
  blob: string;
  etag: string;
  status: FileStatus;
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
  /** Bytes read from Blob Storage (compressed size for compressed blobs). */
  dataRead: number;
  durationMs: number;
  error?: FileErrorOutput;
  /** Copy attempts, when more than one (a transient failure retried by the orchestrator). */
  attempts?: number;
  /**
   * A zip / tar blob: one result per entry (`blob` = `archive/entry`), all loaded in the
   * blob's one transaction; the blob's own result is their aggregate.
   */
  entries?: FileResult[];
}

export interface RunOutput {
  pipeline: string;
  runId: string;
  status: RunStatus;
  filesRead: number;
  filesSkipped: number;
  filesFailed: number;
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
  dataRead: number;
  copyDurationMs: number;
  throughputBytesPerSec: number;
  files: FileResult[];
}

/** Run-level counters: what a run adds up, whether it keeps each file's result or only the failed ones. */
export interface RunCounters {
  filesSucceeded: number;
  filesSkipped: number;
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
  dataRead: number;
}

/**
 * The run output from counters and the files it lists (the orchestrator lists only failed
 * files; the ledger holds the others). Pure: the orchestrator calls it, so no clocks.
 */
export function runOutputOf(pipeline: string, runId: string, counters: RunCounters, files: FileResult[], copyDurationMs: number): RunOutput {
  const failed = files.filter((f) => f.status === 'Failed').length;
  return {
    pipeline,
    runId,
    status: failed === 0 ? 'Succeeded' : counters.filesSucceeded + counters.filesSkipped === 0 ? 'Failed' : 'PartiallySucceeded',
    filesRead: counters.filesSucceeded,
    filesSkipped: counters.filesSkipped,
    filesFailed: failed,
    rowsRead: counters.rowsRead,
    rowsCopied: counters.rowsCopied,
    rowsSkipped: counters.rowsSkipped,
    dataRead: counters.dataRead,
    copyDurationMs,
    throughputBytesPerSec: copyDurationMs > 0 ? Math.round((counters.dataRead * 1000) / copyDurationMs) : 0,
    files,
  };
}
