/**
 * The orchestrator's pure decisions: how blobs split into sub-orchestrations and waves,
 * what progress it reports, how activities retry, and how a failed activity becomes a
 * Failed file result. No clocks, no I/O, no randomness: the orchestrator replays them.
 */
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileResult } from '../run/output.js';
import type { BlobRef } from '../source/blobs.js';

/**
 * The run orchestrator's function name. Here, not in triggers.ts, so that registering the
 * orchestrator at start-up does not import the triggers' storage client (bench/README.md, "Start-up").
 */
export const RUN_ORCHESTRATOR = 'blob2pgRun';

/** Past this many blobs a run splits into sub-orchestrations, each with its own (bounded) history. */
export const BATCH_SIZE = 500;

/** What crosses into the run orchestrator. */
export interface RunInput {
  spec: PipelineSpec;
  /** Blob versions to load (blob-created events); otherwise the orchestrator lists them. */
  blobs?: BlobRef[];
  /** Only these names (HTTP `{ "blobs": [...] }`, `blob2pg run --blob`). */
  blobNames?: string[];
}

export interface BatchInput {
  spec: PipelineSpec;
  runId: string;
  blobs: BlobRef[];
}

/** One copy activity: one blob, or a group of small ones loaded in one transaction (see planCopies). */
export interface CopyBlobInput {
  spec: PipelineSpec;
  refs: BlobRef[];
  runId: string;
}

export interface ListBlobsInput {
  spec: PipelineSpec;
  names?: string[];
}

/** listBlobs returns an error instead of throwing when a retry would not help (404 container, bad setting). */
export type ListBlobsOutput = { blobs: BlobRef[] } | { error: string };

/** Consecutive slices of at most `size` items. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (size < 1) throw new RangeError('size must be ≥ 1');
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Blobs in sub-orchestration batches: one batch (run inline) up to BATCH_SIZE blobs.
 * Batches run one after another so the run never has more than maxParallelCopies copies
 * in flight, whatever its size.
 */
export function planBatches<T>(blobs: readonly T[], batchSize = BATCH_SIZE): T[][] {
  return blobs.length <= batchSize ? [blobs.slice()] : chunk(blobs, batchSize);
}

/** Blobs up to this size may share a copy activity (and a transaction) with others. */
export const SMALL_BLOB_BYTES = 4 * 1024 * 1024;
/** At most this many blobs in one copy activity. */
export const MAX_GROUP_BLOBS = 50;

/** Small-blob groups per parallel copy: two waves of full groups balance better than one. */
export const GROUPS_PER_PARALLEL_COPY = 2;

/**
 * The copy activities for a list of blobs, in listing order: one per blob, except that when
 * a run has more small blobs than it copies at once, consecutive small blobs share an
 * activity (copyBlobs: one connection, one transaction, a ledger row per blob and, for
 * plain CSV, one COPY). Each blob's fixed cost — an activity, a connection checkout, a
 * table description, a COPY, a commit — is most of the time of a blob of a few thousand
 * rows: 1,000 blobs × 1,000 rows took 4.4-5.3× the time of one 1M-row blob one activity
 * each. Groups are sized so there are GROUPS_PER_PARALLEL_COPY of them per parallel copy
 * (waves stay full), at most MAX_GROUP_BLOBS blobs each (what one retry redoes); a run of a
 * few blobs per parallel copy (four or fewer) is not grouped at all. Two groups per parallel
 * copy measured a little better than four or one (bench/README.md).
 */
export function planCopies(blobs: readonly BlobRef[], maxParallelCopies: number): BlobRef[][] {
  const isSmall = (b: BlobRef) => b.size > 0 && b.size <= SMALL_BLOB_BYTES;
  const small = blobs.filter(isSmall).length;
  if (small <= 4 * maxParallelCopies) return blobs.map((b) => [b]);
  const groupSize = Math.min(MAX_GROUP_BLOBS, Math.ceil(small / (GROUPS_PER_PARALLEL_COPY * maxParallelCopies)));
  const copies: BlobRef[][] = [];
  let group: BlobRef[] = [];
  for (const blob of blobs) {
    if (!isSmall(blob)) {
      if (group.length) copies.push(group);
      group = [];
      copies.push([blob]);
      continue;
    }
    group.push(blob);
    if (group.length === groupSize) {
      copies.push(group);
      group = [];
    }
  }
  if (group.length) copies.push(group);
  return copies;
}

export function batchInstanceId(runId: string, index: number): string {
  return `${runId}:batch-${index}`;
}

/** What setCustomStatus reports, and GET /api/runs/{id} shows as progress. */
export interface RunProgress {
  filesTotal: number;
  filesDone: number;
  filesFailed: number;
  rowsCopied: number;
}

export function startProgress(filesTotal: number): RunProgress {
  return { filesTotal, filesDone: 0, filesFailed: 0, rowsCopied: 0 };
}

/** Archive entries are files of their own in the run output and progress (ADF lists each one). */
export function flattenFiles(files: readonly FileResult[]): FileResult[] {
  return files.flatMap((f) => {
    return f.entries?.length ? flattenFiles(f.entries) : [f];
  });
}

export function addProgress(progress: RunProgress, files: readonly FileResult[]): RunProgress {
  const flat = flattenFiles(files);
  return {
    filesTotal: progress.filesTotal,
    filesDone: progress.filesDone + files.length,
    filesFailed: progress.filesFailed + flat.filter((f) => f.status === 'Failed').length,
    rowsCopied: progress.rowsCopied + flat.reduce((n, f) => n + f.rowsCopied, 0),
  };
}

/**
 * Retry policy for activities (only TransientError is thrown by them, see
 * src/errors.ts isTransient): 5 s, 10 s, 20 s, 40 s — five attempts over about 75 s,
 * long enough for a Postgres failover or a throttled storage account.
 */
export const ACTIVITY_RETRY = {
  firstRetryIntervalInMilliseconds: 5_000,
  backoffCoefficient: 2,
  maxNumberOfAttempts: 5,
  maxRetryIntervalInMilliseconds: 60_000,
} as const;

/** Delay before retry attempt `attempt` (2 = the first retry), as Durable Task computes it. */
export function retryDelayMs(
  options: { firstRetryIntervalInMilliseconds: number; backoffCoefficient?: number; maxRetryIntervalInMilliseconds?: number },
  attempt: number,
): number {
  const delay = options.firstRetryIntervalInMilliseconds * (options.backoffCoefficient ?? 1) ** Math.max(0, attempt - 2);
  const cap = options.maxRetryIntervalInMilliseconds;
  return cap && cap > 0 ? Math.min(delay, cap) : delay;
}

/**
 * A task failure's message as the orchestrator sees it: the extension sends
 * `Reason \n Details` (message, then stack); the user wants the message.
 */
export function failureMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split(' \n ')[0]!.trim() || text;
}

/** A blob whose copy activity failed for good (retries exhausted): the run goes on. */
export function failedFile(ref: BlobRef, err: unknown): FileResult {
  return {
    blob: ref.name,
    etag: ref.etag,
    status: 'Failed',
    rowsRead: 0,
    rowsCopied: 0,
    rowsSkipped: 0,
    dataRead: 0,
    durationMs: 0,
    error: { message: failureMessage(err) },
  };
}
