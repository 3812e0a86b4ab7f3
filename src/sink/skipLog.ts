/**
 * The skipped-row log (ADF fault tolerance): `<logContainer>/<pipeline>/<runId>/<blob path>.csv`
 * with header `line,column,value,reason`, in the SOURCE connection's storage account.
 * Streamed from the skipped-rows temp table (COPY … TO STDOUT) into a block-blob upload,
 * once per blob, after the data and just before COMMIT — never buffered whole in Node.
 */
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { blobServiceClientFor } from '../connections/blobServiceClient.js';
import type { Env } from '../connections/settings.js';
import type { PipelineSpec } from '../pipeline/spec.js';

export function logContainerName(spec: PipelineSpec, env: Env = process.env): string {
  return spec.faultTolerance?.logContainer ?? env.BLOB2PG_LOG_CONTAINER ?? 'copy-logs';
}

export function skipLogBlobName(spec: PipelineSpec, runId: string, blobName: string): string {
  return `${spec.name}/${runId}/${blobName}.csv`;
}

const createdContainers = new Set<string>();

/** Writes the skipped rows held in `table` (a temp table of the open transaction) to the log container. */
export async function uploadSkipLog(
  client: pg.ClientBase,
  table: string,
  spec: PipelineSpec,
  options: { runId: string; blobName: string; env?: Env; abortSignal?: AbortSignal },
): Promise<string> {
  const containerName = logContainerName(spec, options.env);
  const container = blobServiceClientFor(spec.source.connection, options.env).getContainerClient(containerName);
  const key = `${container.url}`;
  if (!createdContainers.has(key)) {
    await container.createIfNotExists({ abortSignal: options.abortSignal });
    createdContainers.add(key);
  }
  const name = skipLogBlobName(spec, options.runId, options.blobName);
  const csv = client.query(copyTo(`COPY (SELECT line, "column", value, reason FROM ${table} ORDER BY line) TO STDOUT (FORMAT csv, HEADER)`));
  const body = new PassThrough();
  const upload = container.getBlockBlobClient(name).uploadStream(body, 4 * 1024 * 1024, 2, {
    blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
    abortSignal: options.abortSignal,
  });
  await Promise.all([pipeline(csv, body), upload]);
  return `${containerName}/${name}`;
}
