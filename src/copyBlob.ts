/**
 * copyBlob: the one step that loads one blob version into its table, inside one database
 * transaction holding the pre-copy script, the data, the post-copy script and the ledger
 * row. Returns the file's counters. Data errors come back as a Failed result (retrying
 * would fail again); transient errors throw TransientError so the caller retries.
 *
 * copyBlobs loads a group of small blobs the same way on one connection, in one
 * transaction with a savepoint per blob: each blob still loads entirely or not at all, with
 * its own ledger row, but the group pays for one connection checkout, one table
 * description and one commit. A failed blob rolls back to its savepoint and the others go
 * on; a transient error rolls back the group, which is retried as a whole (the ledger keeps
 * that exactly-once).
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
import { describeTable, type TableInfo } from './sink/tableInfo.js';
import type { SinkWriter } from './sink/writer.js';
import type pg from 'pg';

export interface CopyBlobOptions {
  runId: string;
  env?: Env;
  abortSignal?: AbortSignal;
}

export async function copyBlob(spec: PipelineSpec, ref: BlobRef, options: CopyBlobOptions): Promise<FileResult> {
  return (await copyBlobs(spec, [ref], options))[0]!;
}

/** What one load needs besides the blob: the open transaction and what it was told. */
interface LoadContext {
  client: pg.PoolClient;
  spec: PipelineSpec;
  options: CopyBlobOptions;
  env: Env;
  ledgerSchema: string;
  /** The table as described in this transaction, and its writer prepared, when no pre-copy script can change it. */
  target?: { table: TableInfo; writer: SinkWriter };
}

/** Where an error points: the file (archive entry) being loaded and its line mapping. */
type Location = { blob: string; lineOffset: number; lineOf?: (copyLine: number) => number };

/** A load that failed, with where it failed. */
class LoadFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly at: Location,
    readonly bytesRead: number,
  ) {
    super('load failed');
  }
}

const BLOB_SAVEPOINT = 'blob2pg_blob';

export async function copyBlobs(spec: PipelineSpec, refs: readonly BlobRef[], options: CopyBlobOptions): Promise<FileResult[]> {
  const env = options.env ?? process.env;
  const started = performance.now();
  const pool = poolFor(spec.sink.connection, env);
  const ledgerSchema = ledgerSchemaName(spec.sink.ledgerSchema, env);
  const grouped = refs.length > 1;
  const results: FileResult[] = [];
  try {
    await ensureLedger(pool, ledgerSchema);
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const context: LoadContext = { client, spec, options, env, ledgerSchema };
        for (const ref of refs) {
          if (grouped) await client.query(`SAVEPOINT ${BLOB_SAVEPOINT}`);
          try {
            const result = await loadBlob(context, ref);
            // Skipped (loaded before): undo anything it ran, such as an archive's pre-copy script.
            const skipped = result.status === 'Skipped';
            if (grouped) await client.query(skipped ? `ROLLBACK TO SAVEPOINT ${BLOB_SAVEPOINT}` : `RELEASE SAVEPOINT ${BLOB_SAVEPOINT}`);
            else if (skipped) {
              await client.query('ROLLBACK');
              return [result];
            }
            results.push(result);
          } catch (err) {
            const failure = err instanceof LoadFailure ? err : new LoadFailure(err, { blob: ref.name, lineOffset: 0 }, 0);
            const mapped = mapLoadError(failure.error, { pipeline: spec.name, ...failure.at });
            if (!grouped || mapped instanceof TransientError || isTransient(failure.error)) throw failure;
            // This blob only: back to its savepoint (also drops a table description it may have changed).
            await client.query(`ROLLBACK TO SAVEPOINT ${BLOB_SAVEPOINT}`);
            context.target = undefined;
            results.push(fileResult(ref, 'Failed', started, { dataRead: failure.bytesRead, error: toFileErrorOutput(mapped) }));
          }
        }
        await client.query('COMMIT');
        return results;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
        throw err;
      }
    } finally {
      // A client whose connection failed must not go back to the pool.
      client.release(broken);
    }
  } catch (err) {
    const failure = err instanceof LoadFailure ? err : new LoadFailure(err, { blob: refs[results.length]?.name ?? refs[0]!.name, lineOffset: 0 }, 0);
    const mapped = mapLoadError(failure.error, { pipeline: spec.name, ...failure.at });
    if (mapped instanceof TransientError || isTransient(failure.error)) throw mapped;
    // Nothing committed: every blob of the group reports the error (the failing one with its own data read).
    return refs.map((ref) => fileResult(ref, 'Failed', started, { dataRead: ref.name === failure.at.blob ? failure.bytesRead : 0, error: toFileErrorOutput(mapped) }));
  }
}

function fileResult(ref: BlobRef, status: FileResult['status'], started: number, counts: Partial<FileResult> = {}): FileResult {
  return {
    blob: ref.name,
    etag: ref.etag,
    status,
    rowsRead: 0,
    rowsCopied: 0,
    rowsSkipped: 0,
    dataRead: 0,
    durationMs: Math.round(performance.now() - started),
    ...counts,
  };
}

/**
 * Loads one blob inside the open transaction: claims its ledger row (Skipped if this version
 * is loaded already), pre-copy script, data, ledger counters, post-copy script, skipped-row
 * logs. Throws LoadFailure; the caller rolls back.
 */
async function loadBlob(context: LoadContext, ref: BlobRef): Promise<FileResult> {
  const { client, spec, options, env, ledgerSchema } = context;
  const started = performance.now();
  const key: LedgerKey = { targetTable: displayTable(spec.sink.table), blobUrl: blobUrl(spec, ref.name, env), etag: normalizeEtag(ref.etag) };
  let at: Location = { blob: ref.name, lineOffset: 0 };
  const source = blobSource(spec, ref, { env, abortSignal: options.abortSignal });
  try {
    // An archive is one transaction too: its entries each claim a ledger row
    // (`<blob url>/<entry>`) inside it, so a corrupt entry k rolls back entries 1..k-1.
    const archive = isArchive(resolveCodec(spec.source.format.compressionCodec, ref.name));
    if (!archive && !(await claimIngestion(client, ledgerSchema, key, { pipeline: spec.name, runId: options.runId }))) {
      return fileResult(ref, 'Skipped', started);
    }
    if (spec.sink.preCopyScript) await client.query(spec.sink.preCopyScript);
    // Described again after a pre-copy script (it may change the table); once per transaction otherwise.
    let target = context.target;
    if (!target) {
      target = { table: await describeTable(client, spec.sink.table), writer: writerFor(spec.sink.writeMethod) };
      // Checks that need only the table (upsert keys, Citus) fail before the blob is read.
      await target.writer.prepare?.({ client, spec, table: target.table });
      if (!spec.sink.preCopyScript) context.target = target;
    }
    const { table, writer } = target;
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
        return fileResult(ref, 'Skipped', started);
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
        entries.push({ ...fileResult(ref, 'Succeeded', fileStarted, { ...counts, dataRead: bytes }), blob: at.blob });
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
    return fileResult(ref, 'Succeeded', started, { ...totals, dataRead: source.bytesRead, ...(archive && { entries }) });
  } catch (err) {
    source.destroy();
    throw new LoadFailure(err, at, source.bytesRead);
  }
}
