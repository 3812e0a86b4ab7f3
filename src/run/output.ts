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
  /** Tries it took (the first try and the retries after transient failures), when more than one. */
  attempts?: number;
  error?: FileErrorOutput;
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
  /** Why the run as a whole failed (listing, connecting), when it did: status is then Failed. */
  error?: string;
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

/** The run output of a run that keeps every file's result. */
function summarizeRun(pipeline: string, runId: string, files: FileResult[], copyDurationMs: number): RunOutput {
  const count = (status: FileStatus) => files.filter((f) => f.status === status).length;
  const sum = (pick: (f: FileResult) => number) => files.reduce((total, f) => total + pick(f), 0);
  const counters = { filesSucceeded: count('Succeeded'), filesSkipped: count('Skipped'), rowsRead: sum((f) => f.rowsRead), rowsCopied: sum((f) => f.rowsCopied), rowsSkipped: sum((f) => f.rowsSkipped), dataRead: sum((f) => f.dataRead) };
  return runOutputOf(pipeline, runId, counters, files, copyDurationMs);
}

/** A run that failed before or outside its files (listing, connecting): still one run object. */
export function failedRun(pipeline: string, runId: string, error: string, files: FileResult[] = []): RunOutput {
  return { ...summarizeRun(pipeline, runId, files, 0), status: 'Failed', error };
}

/** A file a copy is loading (live progress, load/progress.ts): its blob version, its size when listed, the bytes read so far. */
export interface InFlightFile {
  blob: string;
  etag: string;
  bytesRead: number;
  size: number;
}
