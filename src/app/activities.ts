/**
 * The activities' bodies. functions/activities.ts registers them; the local durable
 * runtime runs the same registrations in-process.
 *  - listBlobs returns one page of the blob versions not yet in the ledger (sweep.ts):
 *    references (name, ETag, size, lastModified), never data, and counters for the rest.
 *  - saveSweepMark records a complete sweep's high-water mark (source.highWaterMark).
 *  - copyBlob is the CLI's copy step for one blob or a group of small ones (copyBlobs): data
 *    errors come back as Failed file results; TransientError is thrown so the orchestrator
 *    retries it.
 * Both take the pipeline by name when it is deployed (PipelineRef), and load its spec here.
 * What a thrown error means crosses to the orchestrator in FailureDetails.Properties
 * (failureProperties), not in the host's wrapped message.
 */
import { redactError, redactSecrets } from '../redact.js';
import { copyBlobs } from '../load/index.js';
import { LoadProgress } from '../load/progress.js';
import type { Env } from '../connections/settings.js';
import { ConfigError, isTransient, TransientError } from '../errors.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileResult } from '../run/output.js';
import { notice } from '../notices.js';
import { appPipelines } from './pipelines.js';
import { failedFile, flattenFiles, type CopyBlobInput, type ListBlobsInput, type ListBlobsOutput, type PipelineRef, type SaveSweepMarkInput } from './plan.js';
import { recordSweepMark, sweepPage } from './sweep.js';
import { loggedFile, recordFiles, runLogTarget, skipLogOf, withHeartbeat, type LoggedFile } from '../runLog/store.js';

/** The spec an activity works with: sent with the run, or the deployed pipeline of that name. */
function resolveSpec(ref: PipelineRef, env: Env = process.env): PipelineSpec {
  if (ref.spec) return ref.spec;
  const spec = appPipelines(env).pipelines.get(ref.pipeline);
  if (!spec) throw new ConfigError(`pipeline ${ref.pipeline} is not deployed (no such pipeline in ${appPipelines(env).folder})`);
  return spec;
}

/** Records a copy's file outcomes in the run log (outside the load's transaction; never throws). */
async function logFiles(spec: PipelineSpec, input: CopyBlobInput, env: Env, files: ReadonlyArray<Omit<FileResult, 'status'> & { status: LoggedFile['status'] }>): Promise<void> {
  // Load lag starts at the blob's last-modified time; an archive entry has its archive's.
  const modifiedOf = (blob: string) => input.refs.find((ref) => blob === ref.name || blob.startsWith(`${ref.name}/`))?.lastModified;
  await recordFiles(
    () => runLogTarget(spec, env),
    { runId: input.runId, pipeline: spec.name },
    files.map((f) => loggedFile(f, modifiedOf(f.blob), skipLogOf(spec, input.runId, f, env))),
  );
}

export async function listBlobsActivity(input: ListBlobsInput, env: Env = process.env): Promise<ListBlobsOutput> {
  try {
    return await sweepPage(resolveSpec(input, env), { env, names: input.names, continuationToken: input.continuationToken });
  } catch (err) {
    const message = `listing blobs for pipeline ${input.pipeline}: ${redactSecrets((err as Error).message)}`;
    if (isTransient(err)) throw new TransientError(message, { cause: redactError(err) });
    return { error: message };
  }
}

/** A complete sweep's high-water mark. Only transient errors can happen (a lost connection): thrown, retried. */
export async function saveSweepMarkActivity(input: SaveSweepMarkInput, env: Env = process.env): Promise<void> {
  await recordSweepMark(resolveSpec(input, env), input.mark, env);
}

/** Throws only TransientError (retried by the orchestrator); config and data errors are Failed results. */
export async function copyBlobActivity(input: CopyBlobInput, env: Env = process.env): Promise<FileResult[]> {
  const spec = resolveSpec(input, env);
  try {
    // The heartbeat tells the page a long load is alive (a run without one turns Abandoned).
    // It also carries the bytes read so far of the files this copy is loading (live progress).
    const progress = new LoadProgress();
    const results = await withHeartbeat(
      () => runLogTarget(spec, env),
      input.runId,
      env,
      () => copyBlobs(spec, input.refs, { runId: input.runId, env, progress }),
      () => progress.snapshot(),
    );
    await logFiles(spec, input, env, flattenFiles(results));
    return results;
  } catch (err) {
    // About to be retried: the log says so, and the next attempt's result replaces it.
    await logFiles(spec, input, env, input.refs.map((ref) => ({ ...failedFile(ref, err), status: 'Retrying' as const })));
    const group = input.refs.length > 1 ? ` (a group of ${input.refs.length} blobs, retried together)` : '';
    notice(`  retry    ${redactSecrets((err as Error).message)}${group}: transient, nothing of it was committed, it is tried again`);
    throw err;
  }
}
