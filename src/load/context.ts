/**
 * What every load of one transaction shares (LoadContext): the client in its transaction,
 * the spec, the ledger schema, and the target table described once; plus the ledger key
 * of a blob version.
 */
import type { Env } from '../connections/settings.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { writerFor } from '../sink/index.js';
import type { LedgerKey } from '../sink/ledgerKey.js';
import { displayTable } from '../sink/sql.js';
import type { TableInfo } from '../pipeline/table.js';
import { describeTable } from '../sink/tableInfo.js';
import type { SinkWriter } from '../sink/writer.js';
import { blobUrl, normalizeEtag, type BlobRef } from '../source/blobs.js';
import type pg from 'pg';
import type { LoadProgress } from './progress.js';

export interface CopyBlobOptions {
  runId: string;
  env?: Env;
  abortSignal?: AbortSignal;
  /** Where the loaders register the byte counters of the files they read (the heartbeat reports them). */
  progress?: LoadProgress;
}

/** What one load needs besides the blob: the open transaction and what it was told. */
export interface LoadContext {
  client: pg.PoolClient;
  spec: PipelineSpec;
  options: CopyBlobOptions;
  env: Env;
  ledgerSchema: string;
  /** The table as described in this transaction, and its writer prepared, when no pre-copy script can change it. */
  target?: { table: TableInfo; writer: SinkWriter };
}

export function ledgerKey(spec: PipelineSpec, ref: BlobRef, env: Env): LedgerKey {
  return { targetTable: displayTable(spec.sink.table), blobUrl: blobUrl(spec, ref.name, env), etag: normalizeEtag(ref.etag) };
}

/**
 * The target table and its writer, prepared. Described again after a pre-copy script (it
 * may change the table); once per transaction otherwise. A rolled-back savepoint may undo
 * what a description saw: clear `context.target` then.
 */
export async function describeTarget(context: LoadContext): Promise<{ table: TableInfo; writer: SinkWriter }> {
  if (context.target) return context.target;
  const { client, spec } = context;
  const target = { table: await describeTable(client, spec.sink.table), writer: await writerFor(spec.sink.writeMethod) };
  // Checks that need only the table (upsert keys, Citus) fail before the blob is read.
  await target.writer.prepare?.({ client, spec, table: target.table });
  if (!spec.sink.preCopyScript) context.target = target;
  return target;
}
