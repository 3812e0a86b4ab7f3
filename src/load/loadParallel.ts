/**
 * One large blob through several COPY streams at once (sink/parallelCopy.ts), when the
 * spec asks for it (`sink.parallelCopies`, or a blob of 1 GiB or more) and the blob, the
 * table and the server allow it; undefined otherwise, and it loads through one stream.
 */
import type { Env } from '../connections/settings.js';
import { mapLoadError, toFileErrorOutput, TransientError } from '../errors.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileResult } from '../run/output.js';
import { poolFor } from '../sink/index.js';
import { ensureLedger, ledgerSchemaName } from '../sink/ledger.js';
import { copyInParallel, parallelCopiesFor } from '../sink/parallelCopy.js';
import { openBlob, type BlobRef } from '../source/blobs.js';
import { blobSource } from '../source/blobSource.js';
import { ledgerKey, type CopyBlobOptions } from './context.js';
import { fileResult, loadedBeforeResult } from './result.js';

export async function loadInParallel(spec: PipelineSpec, ref: BlobRef, options: CopyBlobOptions, env: Env): Promise<FileResult | undefined> {
  const streams = parallelCopiesFor(spec, ref);
  if (streams < 2) return undefined;
  const started = performance.now();
  const pool = poolFor(spec.sink.connection, env);
  const ledgerSchema = ledgerSchemaName(spec.sink.ledgerSchema, env);
  const source = { env, abortSignal: options.abortSignal };
  try {
    await ensureLedger(pool, ledgerSchema);
    const loaded = await copyInParallel(
      {
        pool,
        spec,
        ref,
        runId: options.runId,
        key: ledgerKey(spec, ref, env),
        ledgerSchema,
        openRange: (start, end) => openBlob(spec, ref, source, { start, end }),
        size: async () => (await blobSource(spec, ref, source).randomAccess()).byteLength,
      },
      streams,
    );
    if (!loaded) return undefined;
    if (loaded.status === 'LoadedBefore') return loadedBeforeResult(ref, started, loaded.recorded);
    return fileResult(ref, 'Succeeded', started, { rowsRead: loaded.rowsCopied, rowsCopied: loaded.rowsCopied, dataRead: loaded.dataRead });
  } catch (err) {
    const mapped = mapLoadError(err, { pipeline: spec.name, blob: ref.name });
    if (mapped instanceof TransientError) throw mapped;
    return fileResult(ref, 'Failed', started, { error: toFileErrorOutput(mapped) });
  }
}
