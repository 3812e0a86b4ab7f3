/**
 * Result building for loads, in one place: a FileResult per blob, the failure a load throws
 * (LoadFailure: the error and the blob, archive entry and line mapping it belongs to), and
 * how a failure becomes a Failed result — or a TransientError for the caller to retry.
 */
import { mapLoadError, toFileErrorOutput, TransientError } from '../errors.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileResult } from '../run/output.js';
import type { LedgerCompletion } from '../sink/ledger.js';
import type { BlobRef } from '../source/blobs.js';

/** Where an error points: the file (archive entry) being loaded and its line mapping. */
export interface Location {
  blob: string;
  lineOffset: number;
  lineOf?: (copyLine: number) => number;
}

/** A load that failed, with where it failed and how many bytes of that blob it had read. */
export class LoadFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly at: Location,
    readonly bytesRead: number,
  ) {
    super('load failed', { cause: error });
  }

  /** `err` as a failure of `ref` when nothing below said where it happened. */
  static of(err: unknown, ref: BlobRef): LoadFailure {
    return err instanceof LoadFailure ? err : new LoadFailure(err, { blob: ref.name, lineOffset: 0 }, 0);
  }
}

export function fileResult(ref: BlobRef, status: FileResult['status'], started: number, counts: Partial<FileResult> = {}): FileResult {
  return {
    blob: ref.name,
    etag: ref.etag,
    status,
    rowsRead: 0,
    rowsCopied: 0,
    rowsSkipped: 0,
    dataRead: 0,
    durationMs: Math.round(performance.now() - started),
    ...counts,
  };
}

/**
 * The result of a blob whose ledger claim found its version loaded (ledger.ts, recordedByRun):
 * loaded by this run — an earlier attempt whose COMMIT's answer was lost — Succeeded with
 * the counts that attempt recorded; loaded by another run, Skipped.
 */
export function loadedBeforeResult(ref: BlobRef, started: number, recorded: LedgerCompletion | undefined): FileResult {
  if (!recorded) return fileResult(ref, 'Skipped', started);
  const { bytes, ...counts } = recorded;
  return fileResult(ref, 'Succeeded', started, { ...counts, dataRead: bytes });
}

/** The Failed result of one blob that failed alone (its savepoint rolled back). */
export function failedResult(spec: PipelineSpec, ref: BlobRef, started: number, failure: LoadFailure): FileResult {
  const mapped = mapLoadError(failure.error, { pipeline: spec.name, ...failure.at });
  return fileResult(ref, 'Failed', started, { dataRead: failure.bytesRead, error: toFileErrorOutput(mapped) });
}

/**
 * A load whose transaction rolled back: a transient error throws (the caller retries the
 * whole group); otherwise nothing committed, so every blob reports the error — the failing
 * one with the bytes it had read.
 */
export function failedResults(spec: PipelineSpec, refs: readonly BlobRef[], started: number, failure: LoadFailure): FileResult[] {
  const mapped = mapLoadError(failure.error, { pipeline: spec.name, ...failure.at });
  if (mapped instanceof TransientError) throw mapped;
  const error = toFileErrorOutput(mapped);
  return refs.map((ref) => fileResult(ref, 'Failed', started, { dataRead: ref.name === failure.at.blob ? failure.bytesRead : 0, error }));
}
