/**
 * Loading blobs into their table, exactly once: copyBlob loads one blob version inside one
 * database transaction holding the pre-copy script, the data, the post-copy script and the
 * ledger row; copyBlobs loads a group of small blobs on one connection in one transaction
 * (loadGroup.ts). Data errors come back as Failed results (retrying would fail again);
 * transient errors throw TransientError so the caller retries — a group as a whole (the
 * ledger keeps that exactly-once).
 *
 *   transaction.ts  checkout, watch, BEGIN/COMMIT, what a failure means for a retry
 *   loadBlob.ts     one blob or archive
 *   loadGroup.ts    a group: one COPY with prefetch, else blob by blob in savepoints
 *   loadParallel.ts one large blob through several COPY streams
 *   result.ts       FileResults and LoadFailure
 */
import type { FileResult } from '../run/output.js';
import type { BlobRef } from '../source/blobs.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { CopyBlobOptions } from './context.js';
import { loadBlob } from './loadBlob.js';
import { loadGroup } from './loadGroup.js';
import { loadInParallel } from './loadParallel.js';
import { failedResults, LoadFailure } from './result.js';
import { withLoadTransaction } from './transaction.js';

export { ledgerKey, type CopyBlobOptions } from './context.js';

export async function copyBlob(spec: PipelineSpec, ref: BlobRef, options: CopyBlobOptions): Promise<FileResult> {
  return (await copyBlobs(spec, [ref], options))[0]!;
}

export async function copyBlobs(spec: PipelineSpec, refs: readonly BlobRef[], options: CopyBlobOptions): Promise<FileResult[]> {
  const env = options.env ?? process.env;
  if (refs.length === 1) {
    const parallel = await loadInParallel(spec, refs[0]!, options, env);
    if (parallel) return [parallel];
  }
  const started = performance.now();
  try {
    if (refs.length > 1) return await withLoadTransaction(spec, refs, { ...options, env }, (context) => loadGroup(context, refs));
    return await withLoadTransaction(
      spec,
      refs,
      { ...options, env },
      async (context) => [await loadBlob(context, refs[0]!)],
      // Found loaded before: undo anything it ran, such as an archive's pre-copy script.
      (loaded) => loaded[0]!.status !== 'Skipped',
    );
  } catch (err) {
    return failedResults(spec, refs, started, err as LoadFailure);
  }
}
