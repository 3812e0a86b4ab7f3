/**
 * copyBlob: the one step that loads one blob version into its table, inside one database
 * transaction holding the pre-copy script, the data, the post-copy script and the ledger
 * row. Returns the file's counters. Data errors come back as a Failed result (retrying
 * would fail again); transient errors throw TransientError so the caller retries.
 */
import { finished } from 'node:stream/promises';
import type { Env } from './connections/settings.js';
import { isTransient, mapLoadError, toFileErrorOutput, TransientError } from './errors.js';
import { isArchive, resolveCodec } from './format/compression.js';
import { sourceFiles } from './format/index.js';
import { resolveMapping } from './pipeline/mapping.js';
import type { PipelineSpec } from './pipeline/spec.js';
import type { FileResult } from './run/output.js';
import { blobUrl, normalizeEtag, type BlobRef } from './source/blobs.js';
import { blobSource } from './source/blobSource.js';
import { poolFor, writerFor, type WriteCounters } from './sink/index.js';
import { claimIngestion, completeIngestion, ensureLedger, ledgerSchemaName, type LedgerKey } from './sink/ledger.js';
import { displayTable } from './sink/sql.js';
import { uploadSkipLog } from './sink/skipLog.js';
import { skipMode } from './sink/staged.js';
import { describeTable } from './sink/tableInfo.js';

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

  // Where an error points: the file (archive entry) being loaded and its line mapping.
  let at: { blob: string; lineOffset: number; lineOf?: (copyLine: number) => number } = { blob: ref.name, lineOffset: 0 };
  const source = blobSource(spec, ref, { env, abortSignal: options.abortSignal });
  try {
    await ensureLedger(pool, ledgerSchema);
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        // An archive is one transaction too: its entries each claim a ledger row
        // (`<blob url>/<entry>`) inside it, so a corrupt entry k rolls back entries 1..k-1.
        const archive = isArchive(resolveCodec(spec.source.format.compressionCodec, ref.name));
        if (!archive && !(await claimIngestion(client, ledgerSchema, key, { pipeline: spec.name, runId: options.runId }))) {
          await client.query('ROLLBACK');
          return result('Skipped');
        }
        if (spec.sink.preCopyScript) await client.query(spec.sink.preCopyScript);
        const table = await describeTable(client, spec.sink.table);
        const writer = writerFor(spec.sink.writeMethod);
        // Checks that need only the table (upsert keys, Citus) fail before the blob is read.
        await writer.prepare?.({ client, spec, table });
        const totals = { rowsRead: 0, rowsCopied: 0, rowsSkipped: 0 };
        const entries: FileResult[] = [];
        const skipLogs: Array<{ table: string; blobName: string }> = [];
        for await (const file of sourceFiles(source, spec.source.format)) {
          const fileStarted = performance.now();
          const bytesBefore = source.bytesRead;
          const fileKey = file.entry === undefined ? key : { ...key, blobUrl: `${key.blobUrl}/${file.entry}` };
          at = { blob: file.entry === undefined ? ref.name : `${ref.name}/${file.entry}`, lineOffset: 0 };
          if (file.entry !== undefined && !(await claimIngestion(client, ledgerSchema, fileKey, { pipeline: spec.name, runId: options.runId }))) {
            // Entries commit together, so one already loaded means the whole archive was.
            source.destroy();
            await client.query('ROLLBACK');
            return result('Skipped');
          }
          const decoded = await file.decode({ tableColumns: table.columns, mapping: spec.mapping, skipBadRecords: skipMode({ spec }) });
          at = { ...at, lineOffset: decoded.lineOffset, lineOf: decoded.lineOf };
          let counts: WriteCounters = { rowsRead: 0, rowsCopied: 0, rowsSkipped: 0 };
          if (decoded.fieldCount > 0) {
            const mapping = resolveMapping(decoded.mapping ?? spec.mapping, decoded.header, decoded.fieldCount, table.columns);
            counts = await writer.write({
              client,
              spec,
              table,
              mapping,
              body: decoded.body,
              copyOptions: decoded.copyOptions,
              lineOffset: decoded.lineOffset,
              tagged: decoded.tagged,
              // $$FILEPATH of an archive entry is `blob/entry`.
              blob: file.entry === undefined ? ref : { ...ref, name: at.blob },
              runId: options.runId,
            });
          } else {
            decoded.body.resume();
            await finished(decoded.body);
          }
          const bytes = source.bytesRead - bytesBefore;
          const { skippedRowsTable, ...rowCounts } = counts;
          counts = rowCounts;
          await completeIngestion(client, ledgerSchema, fileKey, { ...counts, bytes });
          if (skippedRowsTable) skipLogs.push({ table: skippedRowsTable, blobName: at.blob });
          totals.rowsRead += counts.rowsRead;
          totals.rowsCopied += counts.rowsCopied;
          totals.rowsSkipped += counts.rowsSkipped;
          if (file.entry !== undefined) {
            entries.push({ ...result('Succeeded', { ...counts, dataRead: bytes }), blob: at.blob, durationMs: Math.round(performance.now() - fileStarted) });
          }
        }
        at = { blob: ref.name, lineOffset: 0 };
        if (spec.sink.postCopyScript) await client.query(spec.sink.postCopyScript);
        // Skipped-row logs: after the data and the post-copy script, before COMMIT, so a log
        // exists only for a load that got as far as committing (a failed upload fails — and
        // retries — the load).
        for (const log of skipLogs) {
          await uploadSkipLog(client, log.table, spec, { runId: options.runId, blobName: log.blobName, env, abortSignal: options.abortSignal });
        }
        await client.query('COMMIT');
        return result('Succeeded', { ...totals, dataRead: source.bytesRead, ...(archive && { entries }) });
      } catch (err) {
        source.destroy();
        await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
        throw err;
      }
    } finally {
      // A client whose connection failed must not go back to the pool.
      client.release(broken);
    }
  } catch (err) {
    const mapped = mapLoadError(err, { pipeline: spec.name, ...at });
    if (mapped instanceof TransientError || isTransient(err)) throw mapped;
    return result('Failed', { dataRead: source.bytesRead, error: toFileErrorOutput(mapped) });
  }
}
