/**
 * The run orchestration: every way a load starts (blob event, timer, HTTP, CLI) ends here.
 * List the blobs (activity), copy them in waves of at most maxParallelCopies (activity,
 * retried with backoff on TransientError), split past BATCH_SIZE blobs into
 * sub-orchestrations, report progress with setCustomStatus, return the run output of
 * `blob2pg run --json`.
 *
 * Deterministic: no I/O, clock or randomness outside context.df (the time comes from
 * context.df.currentUtcDateTime, the run ID is the instance ID).
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
  BATCH_SIZE,
  batchInstanceId,
  chunk,
  failedFile,
  failureMessage,
  flattenFiles,
  planBatches,
  planCopies,
  RUN_ORCHESTRATOR,
  startProgress,
  type BatchInput,
  type CopyBlobInput,
  type ListBlobsInput,
  type ListBlobsOutput,
  type RunInput,
  type RunProgress,
} from '../src/app/plan.js';
import type { PipelineSpec } from '../src/pipeline/spec.js';
import { summarizeRun, type FileResult } from '../src/run/output.js';
import type { BlobRef } from '../src/source/blobs.js';

export { RUN_ORCHESTRATOR };
export const BATCH_ORCHESTRATOR = 'blob2pgCopyBatch';
export const LIST_BLOBS_ACTIVITY = 'listBlobs';
export const COPY_BLOB_ACTIVITY = 'copyBlob';

function activityRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(ACTIVITY_RETRY.firstRetryIntervalInMilliseconds, ACTIVITY_RETRY.maxNumberOfAttempts);
  retry.backoffCoefficient = ACTIVITY_RETRY.backoffCoefficient;
  retry.maxRetryIntervalInMilliseconds = ACTIVITY_RETRY.maxRetryIntervalInMilliseconds;
  return retry;
}

/** Copies `blobs` (one activity per blob or per group of small ones) in waves of maxParallelCopies; reports progress after each wave. */
function* copyInWaves(
  context: OrchestrationContext,
  spec: PipelineSpec,
  runId: string,
  blobs: BlobRef[],
  progress: { value: RunProgress },
): Generator<Task, FileResult[], unknown> {
  const retry = activityRetry();
  const files: FileResult[] = [];
  for (const wave of chunk(planCopies(blobs, spec.maxParallelCopies), spec.maxParallelCopies)) {
    const tasks = wave.map((refs) => context.df.callActivityWithRetry(COPY_BLOB_ACTIVITY, retry, { spec, refs, runId } satisfies CopyBlobInput));
    let results: FileResult[];
    try {
      results = ((yield context.df.Task.all(tasks)) as FileResult[][]).flat();
    } catch {
      // One copy failed for good (retries exhausted); collect the others one by one.
      results = [];
      for (const [i, task] of tasks.entries()) {
        try {
          results.push(...((yield task) as FileResult[]));
        } catch (err) {
          results.push(...wave[i]!.map((ref) => failedFile(ref, err)));
        }
      }
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
  const runId = context.df.instanceId;
  const started = context.df.currentUtcDateTime.getTime();

  let blobs = input.blobs;
  if (!blobs) {
    const listed = (yield context.df.callActivityWithRetry(LIST_BLOBS_ACTIVITY, activityRetry(), {
      spec,
      names: input.blobNames,
    } satisfies ListBlobsInput)) as ListBlobsOutput;
    if ('error' in listed) throw new Error(listed.error);
    blobs = listed.blobs;
  }

  const progress = { value: startProgress(blobs.length) };
  context.df.setCustomStatus(progress.value);
  const batches = planBatches(blobs, BATCH_SIZE);
  let files: FileResult[];
  if (batches.length <= 1) {
    files = yield* copyInWaves(context, spec, runId, blobs, progress);
  } else {
    // One batch at a time keeps the run at maxParallelCopies copies in flight.
    files = [];
    for (const [i, batch] of batches.entries()) {
      let results: FileResult[];
      try {
        results = (yield context.df.callSubOrchestrator(BATCH_ORCHESTRATOR, { spec, runId, blobs: batch } satisfies BatchInput, batchInstanceId(runId, i))) as FileResult[];
      } catch (err) {
        const message = `batch ${i} failed: ${failureMessage(err)}`;
        results = batch.map((ref) => failedFile(ref, new Error(message)));
      }
      files.push(...results);
      progress.value = addProgress(progress.value, results);
      context.df.setCustomStatus(progress.value);
    }
  }
  return summarizeRun(spec.name, runId, flattenFiles(files), context.df.currentUtcDateTime.getTime() - started);
};

export const batchOrchestrator: OrchestrationHandler = function* (context) {
  const { spec, runId, blobs } = context.df.getInput() as BatchInput;
  const progress = { value: startProgress(blobs.length) };
  context.df.setCustomStatus(progress.value);
  return yield* copyInWaves(context, spec, runId, blobs, progress);
};

df.app.orchestration(RUN_ORCHESTRATOR, runOrchestrator);
df.app.orchestration(BATCH_ORCHESTRATOR, batchOrchestrator);
