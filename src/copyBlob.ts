/**
 * copyBlob: the one step that loads one blob version into its table, inside one database
 * transaction holding the pre-copy script, the data, the post-copy script and the ledger
 * row. Returns the file's counters. Data errors come back as a Failed result (retrying
 * would fail again); transient errors throw TransientError so the caller retries.
 */
import type { Readable } from 'node:stream';
import type { Env } from './connections/settings.js';
import { isTransient, mapLoadError, toFileErrorOutput, TransientError } from './errors.js';
import { ByteCounter } from './format/compression.js';
import { decodeBlob } from './format/index.js';
import { resolveMapping } from './pipeline/mapping.js';
import type { PipelineSpec } from './pipeline/spec.js';
import type { FileResult } from './run/output.js';
import { blobUrl, normalizeEtag, openBlob, type BlobRef } from './source/blobs.js';
import { poolFor, writerFor } from './sink/index.js';
import { claimIngestion, completeIngestion, ensureLedger, ledgerSchemaName, type LedgerKey } from './sink/ledger.js';
import { displayTable } from './sink/sql.js';
import { uploadSkipLog } from './sink/skipLog.js';
import { describeTable } from './sink/tableInfo.js';
import type { WriteCounters } from './sink/writer.js';

export interface CopyBlobOptions {
  runId: string;
  env?: Env;
  abortSignal?: AbortSignal;
}

export async function copyBlob(spec: PipelineSpec, ref: BlobRef, options: CopyBlobOptions): Promise<FileResult> {
  const env = options.env ?? process.env;
  const started = performance.now();
  const pool = poolFor(spec.sink.connection, env);
  const ledgerSchema = ledgerSchemaName(spec.sink.ledgerSchema, env);
  const key: LedgerKey = { targetTable: displayTable(spec.sink.table), blobUrl: blobUrl(spec, ref.name, env), etag: normalizeEtag(ref.etag) };
  const result = (status: FileResult['status'], counts: Partial<FileResult> = {}): FileResult => ({
    blob: ref.name,
    etag: ref.etag,
    status,
    rowsRead: 0,
    rowsCopied: 0,
    rowsSkipped: 0,
    dataRead: 0,
    durationMs: Math.round(performance.now() - started),
    ...counts,
  });

  let lineOffset = 0;
  let raw: Readable | undefined;
  const counter = new ByteCounter();
  try {
    await ensureLedger(pool, ledgerSchema);
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        if (!(await claimIngestion(client, ledgerSchema, key, { pipeline: spec.name, runId: options.runId }))) {
          await client.query('ROLLBACK');
          return result('Skipped');
        }
        if (spec.sink.preCopyScript) await client.query(spec.sink.preCopyScript);
        const table = await describeTable(client, spec.sink.table);
        const writer = writerFor(spec.sink.writeMethod);
        // Checks that need only the table (upsert keys, Citus) fail before the blob is read.
        await writer.prepare?.({ client, spec, table });
        raw = await openBlob(spec, ref, { env, abortSignal: options.abortSignal });
        const decoded = await decodeBlob(raw.pipe(counter), spec.source.format, ref.name);
        raw.on('error', (err) => counter.destroy(err));
        lineOffset = decoded.lineOffset;
        let counts: WriteCounters = { rowsRead: 0, rowsCopied: 0, rowsSkipped: 0 };
        if (decoded.fieldCount > 0) {
          const mapping = resolveMapping(spec.mapping, decoded.header, decoded.fieldCount, table.columns);
          counts = await writer.write({
            client,
            spec,
            table,
            mapping,
            body: decoded.body,
            copyOptions: decoded.copyOptions,
            lineOffset,
            blob: ref,
            runId: options.runId,
          });
        } else {
          decoded.body.resume();
        }
        if (spec.sink.postCopyScript) await client.query(spec.sink.postCopyScript);
        const { skippedRowsTable, ...rowCounts } = counts;
        await completeIngestion(client, ledgerSchema, key, { ...rowCounts, bytes: counter.bytes });
        // Skipped-row log: after the data, before COMMIT, so a log exists only for a load
        // that got as far as committing (and a failed upload fails — and retries — the load).
        if (skippedRowsTable) await uploadSkipLog(client, skippedRowsTable, spec, { runId: options.runId, blobName: ref.name, env, abortSignal: options.abortSignal });
        await client.query('COMMIT');
        return result('Succeeded', { ...rowCounts, dataRead: counter.bytes });
      } catch (err) {
        raw?.destroy();
        await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
        throw err;
      }
    } finally {
      // A client whose connection failed must not go back to the pool.
      client.release(broken);
    }
  } catch (err) {
    const mapped = mapLoadError(err, { pipeline: spec.name, blob: ref.name, lineOffset });
    if (mapped instanceof TransientError || isTransient(err)) throw mapped;
    return result('Failed', { dataRead: counter.bytes, error: toFileErrorOutput(mapped) });
  }
}
