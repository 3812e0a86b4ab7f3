/**
 * The two activities' bodies. functions/activities.ts registers them; the local durable
 * runtime runs the same registrations in-process.
 *  - listBlobs returns references (name, ETag, size, lastModified), never data.
 *  - copyBlob is the CLI's copy step for one blob or a group of small ones (copyBlobs): data
 *    errors come back as Failed file results, TransientError is thrown so
 *    callActivityWithRetry retries it.
 */
import { redactError, redactSecrets } from '../connections/redact.js';
import { copyBlobs } from '../copyBlob.js';
import type { Env } from '../connections/settings.js';
import { isTransient, TransientError } from '../errors.js';
import type { FileResult } from '../run/output.js';
import { notice } from '../notices.js';
import { containerFor, listBlobs, normalizeEtag, type BlobRef } from '../source/blobs.js';
import { failedFile, flattenFiles, type CopyBlobInput, type ListBlobsInput, type ListBlobsOutput } from './plan.js';
import { loggedFile, recordFiles, runLogTarget, type LoggedFile } from '../runLog/store.js';

/** Records a copy's file outcomes in the run log (outside the load's transaction; never throws). */
async function logFiles(input: CopyBlobInput, env: Env, files: ReadonlyArray<Omit<FileResult, 'status'> & { status: LoggedFile['status'] }>): Promise<void> {
  // Load lag starts at the blob's last-modified time; an archive entry has its archive's.
  const modifiedOf = (blob: string) => input.refs.find((ref) => blob === ref.name || blob.startsWith(`${ref.name}/`))?.lastModified;
  await recordFiles(
    () => runLogTarget(input.spec, env),
    { runId: input.runId, pipeline: input.spec.name },
    files.map((f) => loggedFile(f, modifiedOf(f.blob))),
  );
}

export async function listBlobsActivity(input: ListBlobsInput, env: Env = process.env): Promise<ListBlobsOutput> {
  try {
    const blobs: BlobRef[] = [];
    if (input.names?.length) {
      // Named blobs bypass prefix / wildcard: the caller asked for them. The ETag in the
      // form listing gives, so the ledger sees one key per blob version.
      const container = containerFor(input.spec, env);
      for (const name of input.names) {
        const props = await container.getBlobClient(name).getProperties();
        blobs.push({ name, etag: normalizeEtag(props.etag!), size: props.contentLength ?? 0, lastModified: props.lastModified!.toISOString() });
      }
    } else {
      // A run's references are small (about 150 bytes a blob); the batches bound the history.
      for await (const ref of listBlobs(input.spec, { env })) blobs.push(ref);
    }
    return { blobs };
  } catch (err) {
    const message = `listing blobs for pipeline ${input.spec.name}: ${redactSecrets((err as Error).message)}`;
    if (isTransient(err)) throw new TransientError(message, { cause: redactError(err) });
    return { error: message };
  }
}

/** Throws only TransientError (retried by the orchestrator); config and data errors are Failed results. */
export async function copyBlobActivity(input: CopyBlobInput, env: Env = process.env): Promise<FileResult[]> {
  try {
    const results = await copyBlobs(input.spec, input.refs, { runId: input.runId, env });
    await logFiles(input, env, flattenFiles(results));
    return results;
  } catch (err) {
    // About to be retried: the log says so, and the next attempt's result replaces it.
    await logFiles(input, env, input.refs.map((ref) => ({ ...failedFile(ref, err), status: 'Retrying' as const })));
    const group = input.refs.length > 1 ? ` (a group of ${input.refs.length} blobs, retried together)` : '';
    notice(`  retry    ${redactSecrets((err as Error).message)}${group}: transient, nothing of it was committed, it is tried again`);
    throw err;
  }
}
