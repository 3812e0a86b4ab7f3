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

/** Pure: the orchestrator calls it too, so it must not read clocks. */
export function summarizeRun(pipeline: string, runId: string, files: FileResult[], copyDurationMs: number): RunOutput {
  const sum = (pick: (f: FileResult) => number) => files.reduce((total, f) => total + pick(f), 0);
  const loaded = files.filter((f) => f.status === 'Succeeded');
  const failed = files.filter((f) => f.status === 'Failed').length;
  const dataRead = sum((f) => f.dataRead);
  return {
    pipeline,
    runId,
    status: failed === 0 ? 'Succeeded' : failed === files.length ? 'Failed' : 'PartiallySucceeded',
    filesRead: loaded.length,
    filesSkipped: files.filter((f) => f.status === 'Skipped').length,
    filesFailed: failed,
    rowsRead: sum((f) => f.rowsRead),
    rowsCopied: sum((f) => f.rowsCopied),
    rowsSkipped: sum((f) => f.rowsSkipped),
    dataRead,
    copyDurationMs,
    throughputBytesPerSec: copyDurationMs > 0 ? Math.round((dataRead * 1000) / copyDurationMs) : 0,
    files,
  };
}

/** A run that failed before or outside its files (listing, connecting): still one run object. */
export function failedRun(pipeline: string, runId: string, error: string, files: FileResult[] = []): RunOutput {
  return { ...summarizeRun(pipeline, runId, files, 0), status: 'Failed', error };
}
