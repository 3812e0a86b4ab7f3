/**
 * One blob (or one archive, entry by entry) inside the open transaction: ledger claim,
 * pre-copy script, data through the spec's writer, ledger counters, post-copy script,
 * skipped-row logs. Every error leaves as a LoadFailure naming the blob — or the archive
 * entry — and the line mapping of the file being loaded when it happened.
 */
import { finished } from 'node:stream/promises';
import type { Env } from '../connections/settings.js';
import { classify, sqlstateOf } from '../errors.js';
import { corruptionWithin, isArchive, resolveCodec } from '../format/compression.js';
import { sourceFiles } from '../format/index.js';
import { resolveMapping } from '../pipeline/mapping.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileResult } from '../run/output.js';
import type { WriteCounters } from '../sink/index.js';
import { claimIngestion, completeIngestion, recordedByRun } from '../sink/ledger.js';
import { uploadSkipLog } from '../sink/skipLog.js';
import { quoteTable } from '../sink/sql.js';
import { skipMode } from '../sink/stagedWrite.js';
import { openBlob, type BlobRef } from '../source/blobs.js';
import { blobSource } from '../source/blobSource.js';
import { describeTarget, ledgerKey, type LoadContext } from './context.js';
import { fileResult, loadedBeforeResult, LoadFailure, type Location } from './result.js';

/**
 * Loads one blob inside the open transaction: claims its ledger row (a version loaded
 * already is Skipped, or Succeeded when this run loaded it: loadedBeforeResult), pre-copy
 * script, data, ledger counters, post-copy script, skipped-row logs. Throws LoadFailure;
 * the caller rolls back.
 */
export async function loadBlob(context: LoadContext, ref: BlobRef): Promise<FileResult> {
  const { client, spec, options, env, ledgerSchema } = context;
  const started = performance.now();
  const key = ledgerKey(spec, ref, env);
  let at: Location = { blob: ref.name, lineOffset: 0 };
  const source = blobSource(spec, ref, { env, abortSignal: options.abortSignal });
  options.progress?.track(ref, () => source.bytesRead);
  try {
    // An archive is one transaction too: its entries each claim a ledger row
    // (`<blob url>/<entry>`) inside it, so a corrupt entry k rolls back entries 1..k-1.
    // The archive claims a row of its own as well, so a sweep's ledger filter
    // (loadedVersions) sees it loaded and does not schedule it again.
    const archive = isArchive(resolveCodec(spec.source.format.compressionCodec, ref.name));
    await checkTargetBeforeClaim(context);
    if (!(await claimIngestion(client, ledgerSchema, key, { pipeline: spec.name, runId: options.runId }))) {
      // Loaded before: by this run (Succeeded, with what it recorded) or another (Skipped).
      // Nothing has run in this transaction yet, so it changes nothing whether it commits.
      return loadedBeforeResult(ref, started, (await recordedByRun(client, ledgerSchema, [key], options.runId))[0]);
    }
    if (spec.sink.preCopyScript) await client.query(spec.sink.preCopyScript);
    const { table, writer } = await describeTarget(context);
    const totals = { rowsRead: 0, rowsCopied: 0, rowsSkipped: 0 };
    const entries: FileResult[] = [];
    const skipLogs: Array<{ table: string; blobName: string }> = [];
    for await (const file of sourceFiles(source, spec.source.format)) {
      const fileStarted = performance.now();
      const bytesBefore = source.bytesRead;
      const fileKey = file.entry === undefined ? key : { ...key, blobUrl: `${key.blobUrl}/${file.entry}` };
      at = { blob: file.entry === undefined ? ref.name : `${ref.name}/${file.entry}`, lineOffset: 0 };
      if (file.entry !== undefined && !(await claimIngestion(client, ledgerSchema, fileKey, { pipeline: spec.name, runId: options.runId }))) {
        // Entries commit together, so one already loaded means the whole archive was — by
        // another run: this run's own earlier attempt would have found the archive's row.
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
    if (archive) await completeIngestion(client, ledgerSchema, key, { ...totals, bytes: source.bytesRead });
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
    throw new LoadFailure((await corruptInput(spec, ref, err, source.bytesRead, env)) ?? err, at, source.bytesRead);
  }
}

/**
 * A data error from a compressed blob may be garbage inflated from corrupt bytes: then the
 * corruption is the error to report. Checked over the bytes the load had read (plus zlib's
 * look-ahead), so the check costs no more than the load did.
 */
async function corruptInput(spec: PipelineSpec, ref: BlobRef, err: unknown, bytesRead: number, env: Env): Promise<unknown> {
  const codec = resolveCodec(spec.source.format.compressionCodec, ref.name);
  if (codec === 'none' || isArchive(codec) || classify(err) !== 'data' || !sqlstateOf(err)?.startsWith('22')) return undefined;
  try {
    return await corruptionWithin(await openBlob(spec, ref, { env }), codec, bytesRead + 64 * 1024);
  } catch {
    return undefined; // The blob cannot be read again: keep the load's own error.
  }
}

/**
 * Checks the spec against the table before the ledger can answer Skipped: a spec that no
 * longer fits its table (a changed table, Upsert keys without a Citus table's distribution
 * column) fails, rather than hiding behind a version loaded before. With a pre-copy script
 * the check runs again after it (it may change the table); a table that does not exist yet
 * is left to the script to create.
 */
async function checkTargetBeforeClaim(context: LoadContext): Promise<void> {
  const { client, spec } = context;
  if (spec.sink.preCopyScript) {
    // Asked without an error: a failed statement would abort the load's transaction.
    const found = await client.query<{ found: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS found`, [quoteTable(spec.sink.table)]);
    if (!found.rows[0]?.found) return;
  }
  await describeTarget(context);
}
