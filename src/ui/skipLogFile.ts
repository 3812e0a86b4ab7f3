/**
 * The download of a file's skipped-rows log, for the page's link. The request names a run
 * file (run ID, blob, ETag), never a path: the path comes from the run log, and is served
 * only when it is exactly the log blob the pipeline's skip mode writes for that file
 * (`<logContainer>/<pipeline>/<runId>/<blob>.csv`, sink/skipLog.ts) with no `.` or `..`
 * segment, which storage URLs would collapse into another blob or container. So the route
 * reads one kind of blob from one container of the pipeline's own source account: no proxy.
 */
import type { Readable } from 'node:stream';
import { blobServiceClientFor } from '../connections/blobServiceClient.js';
import type { Env } from '../connections/settings.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { skipLogOf, type RunLogPlace } from '../runLog/store.js';
import { quoteIdent } from '../sink/sql.js';

export type SkipLogOpening = { stream: Readable; fileName: string; length?: number } | { refused: string; status: number };

/** A blob name with no segment a URL would resolve (`.`, `..`; `\` counts as `/` in storage). */
export function plainBlobName(name: string): boolean {
  return !name.replace(/\\/g, '/').split('/').some((segment) => segment === '.' || segment === '..');
}

export async function openSkipLog(
  place: RunLogPlace,
  file: { runId: string; blob: string; etag: string },
  specOf: (pipeline: string) => PipelineSpec | undefined,
  env: Env,
  abortSignal?: AbortSignal,
): Promise<SkipLogOpening> {
  const { rows } = await place.pool.query(
    `SELECT r.pipeline, f.skip_log FROM ${quoteIdent(place.schema)}.run_files f JOIN ${quoteIdent(place.schema)}.runs r USING (run_id)
      WHERE f.run_id = $1 AND f.blob = $2 AND f.etag = $3`,
    [file.runId, file.blob, file.etag],
  );
  const row = rows[0] as { pipeline: string; skip_log: string | null } | undefined;
  if (!row?.skip_log) return { refused: 'This file has no skipped-rows log in the run log.', status: 404 };
  const spec = specOf(row.pipeline);
  if (!spec) return { refused: `Pipeline ${row.pipeline} is not known to this page, so neither is its storage account; the log is ${row.skip_log}.`, status: 409 };
  const expected = skipLogOf(spec, file.runId, { blob: file.blob, status: 'Succeeded', rowsSkipped: 1 }, env)!;
  if (row.skip_log !== expected || !plainBlobName(expected)) {
    return { refused: `The run log names ${row.skip_log}, not a skipped-rows log of pipeline ${spec.name} this page serves.`, status: 403 };
  }
  const slash = expected.indexOf('/');
  const blob = blobServiceClientFor(spec.source.connection, env).getContainerClient(expected.slice(0, slash)).getBlobClient(expected.slice(slash + 1));
  try {
    const download = await blob.download(0, undefined, { abortSignal });
    const base = expected.slice(expected.lastIndexOf('/') + 1);
    return { stream: download.readableStreamBody as Readable, fileName: base, ...(download.contentLength !== undefined && { length: download.contentLength }) };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return { refused: `The skipped-rows log ${expected} is no longer in storage (deleted, or a lifecycle rule removed it).`, status: 404 };
    throw err;
  }
}
