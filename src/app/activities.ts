/**
 * The two activities' bodies. functions/activities.ts registers them; the local durable
 * runtime runs the same registrations in-process.
 *  - listBlobs returns one page of the blob versions not yet in the ledger (sweep.ts):
 *    references (name, ETag, size, lastModified), never data, and counters for the rest.
 *  - copyBlob is the CLI's copy step for one blob or a group of small ones (copyBlobs): data
 *    errors come back as Failed file results; TransientError is thrown so the orchestrator
 *    retries it.
 * Both take the pipeline by name when it is deployed (PipelineRef), and load its spec here.
 * What a thrown error means crosses to the orchestrator in FailureDetails.Properties
 * (failureProperties), not in the host's wrapped message.
 */
import { redactError, redactSecrets } from '../connections/redact.js';
import { copyBlobs } from '../copyBlob.js';
import type { Env } from '../connections/settings.js';
import { ConfigError, isTransient, TransientError } from '../errors.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileResult } from '../run/output.js';
import { notice } from '../notices.js';
import { appPipelines } from './pipelines.js';
import { type CopyBlobInput, type ListBlobsInput, type ListBlobsOutput, type PipelineRef } from './plan.js';
import { sweepPage } from './sweep.js';

/** The spec an activity works with: sent with the run, or the deployed pipeline of that name. */
export function resolveSpec(ref: PipelineRef, env: Env = process.env): PipelineSpec {
  if (ref.spec) return ref.spec;
  const spec = appPipelines(env).pipelines.get(ref.pipeline);
  if (!spec) throw new ConfigError(`pipeline ${ref.pipeline} is not deployed (no such pipeline in ${appPipelines(env).folder})`);
  return spec;
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

/** Throws only TransientError (retried by the orchestrator); config and data errors are Failed results. */
export async function copyBlobActivity(input: CopyBlobInput, env: Env = process.env): Promise<FileResult[]> {
  const spec = resolveSpec(input, env);
  try {
    return await copyBlobs(spec, input.refs, { runId: input.runId, env });
  } catch (err) {
    const group = input.refs.length > 1 ? ` (a group of ${input.refs.length} blobs, retried together)` : '';
    notice(`  retry    ${redactSecrets((err as Error).message)}${group}: transient, nothing of it was committed, it is tried again`);
    throw err;
  }
}
