/**
 * The run orchestration: every way a load starts (blob event, timer, HTTP, CLI) ends here.
 * List one page of the blobs not yet in the ledger (activity), copy them in waves of at
 * most maxParallelCopies (activity), split past BATCH_SIZE blobs into sub-orchestrations,
 * and go on with the next page as a new generation (continueAsNew), so no history holds
 * more than a page; report progress with setCustomStatus; return the run output of
 * `blob2pg run --json` — counters, and detail only for failed files.
 *
 * A copy that fails for a transient reason is retried on a durable timer: a few times for
 * a sweep (the next sweep tries again), until a deadline of hours for a blob-created run
 * (plan.ts runRetry). Nothing runs while it waits.
 *
 * Deterministic: no I/O, clock or randomness outside context.df (the time comes from
 * context.df.currentUtcDateTime, the run ID is the instance ID, run keys from newGuid).
 *
 * Why waves (Task.all) and not a sliding window over Task.any: in durable-functions 3.x a
 * Task.any over already-scheduled tasks sends their actions again, so the activities run
 * twice (https://github.com/Azure/azure-functions-durable-js/issues/574).
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  ACTIVITY_RETRY,
  addProgress,
  addTotals,
  BATCH_SIZE,
  batchInstanceId,
  chunk,
  failedFile,
  failureMessage,
  mergeMarks,
  mergeTotals,
  nextAttemptAt,
  pipelineRef,
  planBatches,
  planCopies,
  readFailure,
  runRetry,
  RUN_ORCHESTRATOR,
  startProgress,
  startTotals,
  sweepMarkOf,
  type BatchInput,
  type CopyBlobInput,
  type CopyRetryPolicy,
  type ListBlobsInput,
  type ListBlobsOutput,
  type PipelineRef,
  type RunInput,
  type RunProgress,
  type RunTotals,
  type SaveSweepMarkInput,
} from '../src/app/plan.js';
import { runOutputOf, type FileResult } from '../src/run/output.js';
import type { BlobRef } from '../src/source/blobs.js';

export { RUN_ORCHESTRATOR };
export const BATCH_ORCHESTRATOR = 'blob2pgCopyBatch';
export const LIST_BLOBS_ACTIVITY = 'listBlobs';
export const COPY_BLOB_ACTIVITY = 'copyBlob';
export const SAVE_SWEEP_MARK_ACTIVITY = 'saveSweepMark';

function listingRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(ACTIVITY_RETRY.firstRetryIntervalInMilliseconds, ACTIVITY_RETRY.maxNumberOfAttempts);
  retry.backoffCoefficient = ACTIVITY_RETRY.backoffCoefficient;
  retry.maxRetryIntervalInMilliseconds = ACTIVITY_RETRY.maxRetryIntervalInMilliseconds;
  return retry;
}

/** What one copy activity (one blob or a group) is for, and how it has gone. */
interface Copy {
  refs: BlobRef[];
  attempts: number;
}

/** Schedules the copies and waits for all of them: each one's results, or the error it failed with. */
function* settle(context: OrchestrationContext, ref: PipelineRef, runId: string, copies: Copy[]): Generator<Task, Array<{ files?: FileResult[]; error?: unknown }>, unknown> {
  const tasks = copies.map((c) => context.df.callActivity(COPY_BLOB_ACTIVITY, { ...ref, refs: c.refs, runId } satisfies CopyBlobInput));
  try {
    return ((yield context.df.Task.all(tasks)) as FileResult[][]).map((files) => ({ files }));
  } catch {
    // One of them failed: collect each one's outcome (all have finished by now).
    const outcomes: Array<{ files?: FileResult[]; error?: unknown }> = [];
    for (const task of tasks) {
      try {
        outcomes.push({ files: (yield task) as FileResult[] });
      } catch (error) {
        outcomes.push({ error });
      }
    }
    return outcomes;
  }
}

/**
 * Copies `blobs` (one activity per blob or per group of small ones) in waves of
 * maxParallelCopies; a copy that failed for a transient reason is tried again after a
 * durable timer while the policy allows; reports progress after each wave.
 */
function* copyInWaves(
  context: OrchestrationContext,
  ref: PipelineRef,
  runId: string,
  blobs: BlobRef[],
  maxParallelCopies: number,
  policy: CopyRetryPolicy,
  progress: { value: RunProgress },
): Generator<Task, FileResult[], unknown> {
  const files: FileResult[] = [];
  for (const wave of chunk(planCopies(blobs, maxParallelCopies), maxParallelCopies)) {
    let pending: Copy[] = wave.map((refs) => ({ refs, attempts: 0 }));
    const results: FileResult[] = [];
    while (pending.length) {
      const outcomes = yield* settle(context, ref, runId, pending);
      const now = context.df.currentUtcDateTime.getTime();
      const retry: Copy[] = [];
      let retryAt = 0;
      for (const [i, outcome] of outcomes.entries()) {
        const copy = { ...pending[i]!, attempts: pending[i]!.attempts + 1 };
        if (outcome.files) {
          results.push(...(copy.attempts > 1 ? outcome.files.map((f) => ({ ...f, attempts: copy.attempts })) : outcome.files));
          continue;
        }
        const at = readFailure(outcome.error).transient ? nextAttemptAt(policy, copy.attempts, now) : undefined;
        if (at === undefined) {
          results.push(...copy.refs.map((blob) => failedFile(blob, outcome.error, copy.attempts)));
        } else {
          retry.push(copy);
          retryAt = Math.max(retryAt, at);
        }
      }
      if (retry.length) {
        context.df.setCustomStatus({ ...progress.value, waitingForRetry: { files: retry.reduce((n, c) => n + c.refs.length, 0), attempt: retry[0]!.attempts + 1, at: new Date(retryAt).toISOString() } });
        yield context.df.createTimer(new Date(retryAt));
      }
      pending = retry;
    }
    files.push(...results);
    progress.value = addProgress(progress.value, results);
    context.df.setCustomStatus(progress.value);
  }
  return files;
}

export const runOrchestrator: OrchestrationHandler = function* (context) {
  const input = context.df.getInput() as RunInput;
  const { spec } = input;
  const ref = pipelineRef(input);
  const runId = context.df.instanceId;
  // New for every run and generation, the same on every replay of it.
  const runKey = context.df.newGuid(runId);
  let totals = input.totals ?? startTotals(context.df.currentUtcDateTime.getTime());
  const policy = runRetry(input, totals.startedAt);

  let blobs = input.blobs;
  let continuationToken: string | undefined;
  if (!blobs) {
    const listed = (yield context.df.callActivityWithRetry(LIST_BLOBS_ACTIVITY, listingRetry(), {
      ...ref,
      names: input.blobNames,
      continuationToken: input.continuationToken,
    } satisfies ListBlobsInput)) as ListBlobsOutput;
    if ('error' in listed) throw new Error(listed.error);
    blobs = listed.blobs;
    continuationToken = listed.continuationToken;
    totals = { ...totals, pages: totals.pages + 1, filesSkipped: totals.filesSkipped + listed.loaded };
    const mark = mergeMarks(totals.mark, listed.mark);
    if (mark) totals = { ...totals, mark };
  }

  const progress = { value: startProgress(blobs.length) };
  context.df.setCustomStatus(progress.value);
  const batches = planBatches(blobs, BATCH_SIZE);
  if (batches.length <= 1) {
    totals = addTotals(totals, yield* copyInWaves(context, ref, runId, blobs, spec.maxParallelCopies, policy, progress));
  } else {
    // One batch at a time keeps the run at maxParallelCopies copies in flight. A batch
    // returns only its failed files and counters (its history is its own).
    for (const [i, batch] of batches.entries()) {
      let done: RunTotals;
      try {
        const input: BatchInput = { ...ref, runId, blobs: batch, maxParallelCopies: spec.maxParallelCopies, retry: policy };
        done = (yield context.df.callSubOrchestrator(BATCH_ORCHESTRATOR, input, batchInstanceId(runId, runKey, i))) as RunTotals;
      } catch (err) {
        const message = `batch ${i} failed: ${failureMessage(err)}`;
        done = addTotals(startTotals(0), batch.map((blob) => failedFile(blob, new Error(message))));
      }
      totals = mergeTotals(totals, done);
      progress.value = { ...progress.value, filesDone: progress.value.filesDone + batch.length, filesFailed: progress.value.filesFailed + done.files.filter((f) => f.status === 'Failed').length, rowsCopied: progress.value.rowsCopied + done.rowsCopied };
      context.df.setCustomStatus(progress.value);
    }
  }
  if (continuationToken) {
    // The next page starts a fresh history; the totals carry the run's output so far.
    context.df.continueAsNew({ ...input, continuationToken, totals } satisfies RunInput);
    return undefined;
  }
  // The last page of a complete sweep of a pipeline with a high-water mark (and no failed file).
  const mark = sweepMarkOf(totals);
  if (mark !== undefined) {
    yield context.df.callActivityWithRetry(SAVE_SWEEP_MARK_ACTIVITY, listingRetry(), { ...ref, mark } satisfies SaveSweepMarkInput);
  }
  return runOutputOf(spec.name, runId, totals, totals.files, context.df.currentUtcDateTime.getTime() - totals.startedAt);
};

/**
 * A batch of a big page: copies its blobs and returns its totals — counters and the failed
 * files only, never one result per blob (the parent's history holds what batches return).
 */
export const batchOrchestrator: OrchestrationHandler = function* (context) {
  const { runId, blobs, maxParallelCopies, retry, ...ref } = context.df.getInput() as BatchInput;
  const progress = { value: startProgress(blobs.length) };
  context.df.setCustomStatus(progress.value);
  const files = yield* copyInWaves(context, ref, runId, blobs, maxParallelCopies, retry, progress);
  return addTotals(startTotals(0), files) satisfies RunTotals;
};

df.app.orchestration(RUN_ORCHESTRATOR, runOrchestrator);
df.app.orchestration(BATCH_ORCHESTRATOR, batchOrchestrator);
