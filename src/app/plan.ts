/**
 * The orchestrator's pure decisions: how blobs split into sub-orchestrations and waves,
 * what progress it reports, how activities retry, and how a failed activity becomes a
 * Failed file result. No clocks, no I/O, no randomness: the orchestrator replays them.
 */
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileErrorOutput } from '../errors.js';
import type { FileResult, RunCounters } from '../run/output.js';
import type { BlobRef } from '../source/blobs.js';

/**
 * The run orchestrator's function name. Here, not in triggers.ts, so that registering the
 * orchestrator at start-up does not import the triggers' storage client (bench/README.md, "Start-up").
 */
export const RUN_ORCHESTRATOR = 'blob2pgRun';

/** Past this many blobs a run splits into sub-orchestrations, each with its own (bounded) history. */
export const BATCH_SIZE = 500;

/**
 * Which pipeline an activity works for. A deployed pipeline (the pipelines folder of the
 * app, or of `blob2pg watch`) travels by name and the activity loads its spec; a spec sent
 * with the run (`blob2pg run`, POST /api/runs) travels whole. Either way the orchestration
 * input holds the spec once, not every activity input.
 */
export interface PipelineRef {
  pipeline: string;
  spec?: PipelineSpec;
}

/**
 * What the run carries from one generation to the next (continueAsNew), so its output covers
 * every page. filesSkipped counts versions the listing found in the ledger (never scheduled)
 * as well as those a copy found loaded.
 */
export interface RunTotals extends RunCounters {
  /** Started at (ms since the epoch): the first generation's orchestration time. */
  startedAt: number;
  /** Listing pages done. */
  pages: number;
  /** Failed files, and files that loaded after a retry: the only per-file detail a run keeps (the ledger has the rest). */
  files: FileResult[];
  /** A sweep of a pipeline with a high-water mark: what its pages learned toward the next mark. */
  mark?: SweepMarkCandidate;
}

/**
 * Toward a sweep's high-water mark (source.highWaterMark): when its first page was listed,
 * by the storage service's clock, and the newest last-modified time the listing saw.
 */
export interface SweepMarkCandidate {
  listedAt: string;
  newest?: string;
}

/** Two pages' candidates as one: the earliest listing start, the newest blob. */
export function mergeMarks(a: SweepMarkCandidate | undefined, b: SweepMarkCandidate | undefined): SweepMarkCandidate | undefined {
  if (!a || !b) return a ?? b;
  const newest = [a.newest, b.newest].filter((t): t is string => t !== undefined).sort().at(-1);
  return { listedAt: a.listedAt < b.listedAt ? a.listedAt : b.listedAt, ...(newest && { newest }) };
}

/**
 * The mark a complete sweep may record: every blob modified before it was listed (a blob
 * committed before the listing started is in the listing), so no later than the first
 * page's start; and no later than the newest blob seen. None when a file failed: the mark
 * stays where it was, so the failed blob stays in the next sweeps' view until it loads.
 */
export function sweepMarkOf(totals: RunTotals): string | undefined {
  if (!totals.mark || totals.files.some((f) => f.status === 'Failed')) return undefined;
  const { listedAt, newest } = totals.mark;
  return newest !== undefined && newest < listedAt ? newest : listedAt;
}

/** What crosses into the run orchestrator. */
export interface RunInput {
  spec: PipelineSpec;
  /** The spec is the app's deployed pipeline of that name: activities get the name only. */
  deployed?: boolean;
  /** Blob versions to load (blob-created events); otherwise the orchestrator lists them. */
  blobs?: BlobRef[];
  /** Only these names (HTTP `{ "blobs": [...] }`, `blob2pg run --blob`). */
  blobNames?: string[];
  /** Set by continueAsNew: where the listing goes on, and what the run did so far. */
  continuationToken?: string;
  totals?: RunTotals;
}

export interface BatchInput extends PipelineRef {
  runId: string;
  blobs: BlobRef[];
  maxParallelCopies: number;
  retry: CopyRetryPolicy;
}

/** One copy activity: one blob, or a group of small ones loaded in one transaction (see planCopies). */
export interface CopyBlobInput extends PipelineRef {
  refs: BlobRef[];
  runId: string;
}

export interface ListBlobsInput extends PipelineRef {
  names?: string[];
  /** Where the previous page of the listing ended. */
  continuationToken?: string;
}

/**
 * One page of a sweep: the versions not yet in the ledger, and how many listed blobs were
 * (those are counted, never scheduled). `continuationToken` is set while the container has more.
 * `mark`: set for a pipeline with a high-water mark (a listing, not named blobs).
 */
export interface ListBlobsPage {
  blobs: BlobRef[];
  listed: number;
  loaded: number;
  continuationToken?: string;
  mark?: SweepMarkCandidate;
}

/** The saveSweepMark activity: a complete sweep's high-water mark (ISO 8601). */
export interface SaveSweepMarkInput extends PipelineRef {
  mark: string;
}

/** listBlobs returns an error instead of throwing when a retry would not help (404 container, bad setting). */
export type ListBlobsOutput = ListBlobsPage | { error: string };

export function pipelineRef(input: RunInput): PipelineRef {
  return input.deployed ? { pipeline: input.spec.name } : { pipeline: input.spec.name, spec: input.spec };
}

export function startTotals(startedAt: number): RunTotals {
  return { startedAt, pages: 0, filesSucceeded: 0, filesSkipped: 0, rowsRead: 0, rowsCopied: 0, rowsSkipped: 0, dataRead: 0, files: [] };
}

/** The totals of a batch added to the run's (the run's start and pages stay). */
export function mergeTotals(totals: RunTotals, batch: RunTotals): RunTotals {
  return {
    ...totals,
    filesSucceeded: totals.filesSucceeded + batch.filesSucceeded,
    filesSkipped: totals.filesSkipped + batch.filesSkipped,
    rowsRead: totals.rowsRead + batch.rowsRead,
    rowsCopied: totals.rowsCopied + batch.rowsCopied,
    rowsSkipped: totals.rowsSkipped + batch.rowsSkipped,
    dataRead: totals.dataRead + batch.dataRead,
    files: [...totals.files, ...batch.files],
  };
}

/** Adds copy results (archive entries counted as files, as ADF does) to the totals. */
export function addTotals(totals: RunTotals, files: readonly FileResult[]): RunTotals {
  const flat = flattenFiles(files);
  const sum = (pick: (f: FileResult) => number) => flat.reduce((n, f) => n + pick(f), 0);
  return {
    ...totals,
    filesSucceeded: totals.filesSucceeded + flat.filter((f) => f.status === 'Succeeded').length,
    filesSkipped: totals.filesSkipped + flat.filter((f) => f.status === 'Skipped').length,
    rowsRead: totals.rowsRead + sum((f) => f.rowsRead),
    rowsCopied: totals.rowsCopied + sum((f) => f.rowsCopied),
    rowsSkipped: totals.rowsSkipped + sum((f) => f.rowsSkipped),
    dataRead: totals.dataRead + sum((f) => f.dataRead),
    files: [...totals.files, ...flat.filter((f) => f.status === 'Failed' || (f.attempts ?? 1) > 1)],
  };
}

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

/**
 * A batch's sub-orchestration ID, unique per run: a scheduled pipeline's runs share one
 * instance ID, so `runKey` (context.df.newGuid, replay-safe, new for every run and every
 * continueAsNew generation) tells them apart. Instance IDs allow 100 characters.
 */
export function batchInstanceId(runId: string, runKey: string, index: number): string {
  return `${runId.slice(0, 48)}:${runKey.replace(/-/g, '').slice(0, 20)}:batch-${index}`;
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
 * Retry policy for the listing activity (only TransientError is thrown by it, see
 * src/errors.ts isTransient): 5 s, 10 s, 20 s, 40 s — five attempts over about 75 s,
 * long enough for a Postgres failover or a throttled storage account.
 */
export const ACTIVITY_RETRY = {
  firstRetryIntervalInMilliseconds: 5_000,
  backoffCoefficient: 2,
  maxNumberOfAttempts: 5,
  maxRetryIntervalInMilliseconds: 60_000,
} as const;

/**
 * How the orchestrator retries a copy that failed for a transient reason: on a durable
 * timer (the orchestration sleeps, nothing runs). A sweep (scheduled, HTTP, CLI) gives up
 * after `maxAttempts` — the next sweep tries again. A blob-created run has no next sweep
 * of its own, so it keeps trying until `deadlineMs` (its start + the trigger's
 * retryForHours): a database failover or a maintenance window of hours loses nothing.
 */
export interface CopyRetryPolicy {
  firstRetryIntervalInMilliseconds: number;
  backoffCoefficient: number;
  maxRetryIntervalInMilliseconds: number;
  maxAttempts?: number;
  /** ms since the epoch; no attempt starts after it. */
  deadlineMs?: number;
}

/** Default retryForHours of a BlobCreated trigger. */
export const DEFAULT_RETRY_FOR_HOURS = 24;
/** The reconciliation sweep of a BlobCreated pipeline (NCRONTAB, hourly) unless its trigger says otherwise. */
export const DEFAULT_RECONCILE_SCHEDULE = '0 0 * * * *';

function sweepRetry(): CopyRetryPolicy {
  const { maxNumberOfAttempts, ...backoff } = ACTIVITY_RETRY;
  return { ...backoff, maxAttempts: maxNumberOfAttempts };
}

/** Blob-created runs: back off to 5 minutes between attempts, until the deadline. */
function eventRetry(startedAt: number, retryForHours: number): CopyRetryPolicy {
  return { ...sweepRetry(), maxAttempts: undefined, maxRetryIntervalInMilliseconds: 5 * 60_000, deadlineMs: startedAt + retryForHours * 3_600_000 };
}

/** The retry policy of a run: a blob-created run (blobs given) retries until its trigger's deadline. */
export function runRetry(input: RunInput, startedAt: number): CopyRetryPolicy {
  if (!input.blobs) return sweepRetry();
  const trigger = input.spec.triggers.find((t) => t.type === 'BlobCreated');
  return eventRetry(startedAt, (trigger?.type === 'BlobCreated' && trigger.retryForHours) || DEFAULT_RETRY_FOR_HOURS);
}

/**
 * When attempt `attempt + 1` may start after attempt `attempt` failed at `now`, or
 * undefined when the policy says stop (attempts used up, or past the deadline).
 */
export function nextAttemptAt(policy: CopyRetryPolicy, attempt: number, now: number): number | undefined {
  if (policy.maxAttempts !== undefined && attempt >= policy.maxAttempts) return undefined;
  const at = now + retryDelayMs(policy, attempt + 1);
  if (policy.deadlineMs !== undefined && at > policy.deadlineMs) return undefined;
  return at;
}

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
 * What an activity failure carries across the orchestrator boundary, in the
 * FailureDetails.Properties of durable-functions 3.5 (functions/activities.ts registers the
 * provider that fills it): the file error a user reads, exactly as the CLI reports it,
 * and whether a retry may cure it.
 */
export interface ActivityFailure {
  error: FileErrorOutput;
  transient: boolean;
}

/** The key under FailureDetails.Properties. */
export const FAILURE_PROPERTY = 'blob2pg';

/** The host's wrapping of an activity exception in `Reason` (older extensions, no FailureDetails). */
const HOST_WRAPPING = /^(?:Exception while executing function: \S+\s*(?:->\s*)?)?(?:Result: Failure\s*)?(?:Exception:\s*)?/;

/**
 * Reads a failed task (TaskFailedError of durable-functions 3.5 with the extension's
 * FailureDetails, or the plain `Reason \n Details` Error of older extensions) into the
 * error the user reads and whether it is transient. Without our properties, only a
 * TransientError by name is transient: anything else would fail the same way again.
 */
export function readFailure(err: unknown): ActivityFailure {
  const details = (err as { failureDetails?: { errorType?: string; errorMessage?: string; properties?: Record<string, unknown> } }).failureDetails;
  const carried = details?.properties?.[FAILURE_PROPERTY] as ActivityFailure | undefined;
  if (carried?.error?.message) return { error: carried.error, transient: carried.transient === true };
  if (details) return { error: { message: unwrapHostMessage(details.errorMessage ?? '') }, transient: details.errorType === 'TransientError' };
  const text = err instanceof Error ? err.message : String(err);
  const reason = text.split(' \n ')[0]!.trim() || text;
  // wrapActivityHandler put the FailureDetails JSON into the message; an old extension passes it on as the reason.
  const json = reason.indexOf('{"errorType"');
  if (json >= 0) {
    try {
      return readFailure({ failureDetails: JSON.parse(reason.slice(json)) });
    } catch {
      // Not the JSON it looked like: read it as text.
    }
  }
  const message = unwrapHostMessage(reason);
  return { error: { message }, transient: /^TransientError: /.test(message) || /\bTransientError\b/.test(reason.slice(0, 200)) };
}

/** The exception's own message, without the host's "Exception while executing function" frame and stack. */
function unwrapHostMessage(text: string): string {
  const message = text.replace(HOST_WRAPPING, '').split(/\r?\n\s*(?:Stack|   at )/)[0]!.trim();
  return message.replace(/^(?:TransientError|ConfigError|DataError|Error): /, '') || text;
}

/** A task failure's message as the user should read it. */
export function failureMessage(err: unknown): string {
  return readFailure(err).error.message;
}

/** A blob whose copy activity failed for good: the run goes on. */
export function failedFile(ref: BlobRef, err: unknown, attempts?: number): FileResult {
  return {
    blob: ref.name,
    etag: ref.etag,
    status: 'Failed',
    rowsRead: 0,
    rowsCopied: 0,
    rowsSkipped: 0,
    dataRead: 0,
    durationMs: 0,
    ...(attempts !== undefined && { attempts }),
    error: readFailure(err).error,
  };
}
