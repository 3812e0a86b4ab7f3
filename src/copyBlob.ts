/**
 * copyBlob: the one step that loads one blob version into its table, inside one database
 * transaction holding the pre-copy script, the data, the post-copy script and the ledger
 * row. Returns the file's counters. Data errors come back as a Failed result (retrying
 * would fail again); transient errors throw TransientError so the caller retries.
 *
 * copyBlobs loads a group of small blobs on one connection in one transaction: each blob
 * still loads entirely or not at all, with its own ledger row, but the group pays for one
 * connection checkout, one table description and one commit — and, when they are plain
 * CSV copies into the same columns, one COPY (loadConcatenated). Otherwise, or when that
 * COPY fails, blob by blob with a savepoint each: a failed blob rolls back to its savepoint
 * and the others go on. A transient error rolls back the group, which is retried as a
 * whole (the ledger keeps that exactly-once).
 */
import { finished } from 'node:stream/promises';
import type { Env } from './connections/settings.js';
import { classify, isTransient, mapLoadError, sqlstateOf, toFileErrorOutput, TransientError } from './errors.js';
import { notice } from './notices.js';
import { describeBlockers, lockHolders, watchLoad } from './sink/loadWatch.js';
import { corruptionWithin, isArchive, resolveCodec } from './format/compression.js';
import { sourceFiles, type SourceFile } from './format/index.js';
import { resolveMapping } from './pipeline/mapping.js';
import type { PipelineSpec } from './pipeline/spec.js';
import type { FileResult } from './run/output.js';
import { blobUrl, normalizeEtag, openBlob, stallTimeoutMs, type BlobRef } from './source/blobs.js';
import { blobSource, type CountedBlobSource } from './source/blobSource.js';
import { backendPid, connectionLossOf, poolFor, withClient, withTransaction, writerFor, type WriteCounters } from './sink/index.js';
import { ConcatenatedCopy, ConcatenationRefused } from './sink/concatenatedCopy.js';
import { copiesDirectly } from './sink/copyCommand.js';
import { copyInParallel, parallelCopiesFor } from './sink/parallelCopy.js';
import { claimIngestion, claimIngestions, completeIngestion, completeIngestions, ensureLedger, ledgerSchemaName, type LedgerCompletion, type LedgerKey } from './sink/ledger.js';
import { displayTable, quoteTable } from './sink/sql.js';
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
    super('load failed', { cause: error });
  }
}

const BLOB_SAVEPOINT = 'blob2pg_blob';
const GROUP_SAVEPOINT = 'blob2pg_group';

export async function copyBlobs(spec: PipelineSpec, refs: readonly BlobRef[], options: CopyBlobOptions): Promise<FileResult[]> {
  const env = options.env ?? process.env;
  if (refs.length === 1) {
    const parallel = await loadInParallel(spec, refs[0]!, options, env);
    if (parallel) return [parallel];
  }
  const started = performance.now();
  const results: FileResult[] = [];
  try {
    const pool = poolFor(spec.sink.connection, env);
    const ledgerSchema = ledgerSchemaName(spec.sink.ledgerSchema, env);
    await ensureLedger(pool, ledgerSchema);
    return await withClient(pool, async (client) => {
      const table = displayTable(spec.sink.table);
      const watch = watchLoad(pool, client, backendPid(client), { everyMs: watchInterval(spec.sink.lockTimeoutInMs, env), table, notice, stallTimeoutMs: stallTimeoutMs(env) });
      try {
        return await withTransaction(
          client,
          async () => {
            const context: LoadContext = { client, spec, options, env, ledgerSchema };
            const concatenated = refs.length > 1 && mayConcatenate(spec, refs) ? await loadConcatenated(context, refs) : undefined;
            if (concatenated) results.push(...concatenated);
            else await loadOneByOne(context, refs, results);
            return results;
          },
          {
            setup: [`SET LOCAL lock_timeout = ${spec.sink.lockTimeoutInMs}`],
            // A single blob found loaded before: undo anything it ran, such as an archive's pre-copy script.
            commit: (loaded) => !(refs.length === 1 && loaded[0]!.status === 'Skipped'),
          },
        );
      } catch (err) {
        const failure = err instanceof LoadFailure ? err : undefined;
        const at = failure?.at ?? { blob: refs[results.length]?.name ?? refs[0]!.name, lineOffset: 0 };
        if (sqlstateOf(err) === '55P03') {
          // lock_timeout: say whose lock it was (the session may still hold it).
          const holders = await lockHolders(pool, quoteTable(spec.sink.table), backendPid(client)).catch(() => []);
          const who = holders.length ? `held by ${describeBlockers(holders)}` : 'the holder has let go since';
          throw new LoadFailure(
            new TransientError(`waited ${spec.sink.lockTimeoutInMs} ms (sink.lockTimeoutInMs) for a lock on ${table}, ${who} (55P03)`, { cause: err }),
            at,
            failure?.bytesRead ?? 0,
          );
        }
        // Whatever the load reported after its connection died (a COPY stream's error, "not
        // queryable"), the cause is the lost connection, and another attempt may succeed.
        const loss = connectionLossOf(client);
        if (!loss) throw err;
        throw new LoadFailure(new TransientError(`the connection to PostgreSQL was lost: ${loss.message}`, { cause: loss }), at, failure?.bytesRead ?? 0);
      } finally {
        await watch.stop();
      }
    });
  } catch (err) {
    const failure = err instanceof LoadFailure ? err : new LoadFailure(err, { blob: refs[results.length]?.name ?? refs[0]!.name, lineOffset: 0 }, 0);
    const mapped = mapLoadError(failure.error, { pipeline: spec.name, ...failure.at });
    if (mapped instanceof TransientError) throw mapped;
    // Nothing committed: every blob of the group reports the error (the failing one with its own data read).
    return refs.map((ref) => fileResult(ref, 'Failed', started, { dataRead: ref.name === failure.at.blob ? failure.bytesRead : 0, error: toFileErrorOutput(mapped) }));
  }
}

/**
 * Blob by blob in the open transaction. In a group each blob has its own savepoint: a blob
 * with a data error rolls back to it and reports Failed, and the others go on. `results`
 * grows as blobs finish (the caller names the blob a stray error belongs to by it).
 */
async function loadOneByOne(context: LoadContext, refs: readonly BlobRef[], results: FileResult[]): Promise<void> {
  const { client, spec } = context;
  if (refs.length === 1) {
    results.push(await loadBlob(context, refs[0]!));
    return;
  }
  const started = performance.now();
  for (const ref of refs) {
    await client.query(`SAVEPOINT ${BLOB_SAVEPOINT}`);
    try {
      const result = await loadBlob(context, ref);
      // Skipped (loaded before): undo anything it ran, such as an archive's pre-copy script.
      await client.query(result.status === 'Skipped' ? `ROLLBACK TO SAVEPOINT ${BLOB_SAVEPOINT}` : `RELEASE SAVEPOINT ${BLOB_SAVEPOINT}`);
      results.push(result);
    } catch (err) {
      const failure = err instanceof LoadFailure ? err : new LoadFailure(err, { blob: ref.name, lineOffset: 0 }, 0);
      if (isTransient(failure.error)) throw failure;
      // This blob only: back to its savepoint (also drops a table description it may have changed).
      await client.query(`ROLLBACK TO SAVEPOINT ${BLOB_SAVEPOINT}`);
      context.target = undefined;
      const mapped = mapLoadError(failure.error, { pipeline: spec.name, ...failure.at });
      results.push(fileResult(ref, 'Failed', started, { dataRead: failure.bytesRead, error: toFileErrorOutput(mapped) }));
    }
  }
}

/**
 * Whether a group may try one COPY for all its blobs (loadConcatenated): CopyCommand without
 * scripts (they run per blob), skip mode (its log is per blob) or archives (entries have
 * their own ledger rows). Whether each blob's records go straight into COPY is decided once
 * its header is read.
 */
function mayConcatenate(spec: PipelineSpec, refs: readonly BlobRef[]): boolean {
  const { sink } = spec;
  return (
    sink.writeMethod === 'CopyCommand' &&
    !sink.preCopyScript &&
    !sink.postCopyScript &&
    !skipMode({ spec }) &&
    !refs.some((ref) => isArchive(resolveCodec(spec.source.format.compressionCodec, ref.name)))
  );
}

/**
 * A group of small blobs through one COPY (sink/concatenatedCopy.ts), with their ledger rows
 * claimed in one statement and completed in another: the group costs the server about what
 * one blob of the same rows costs. Inside a savepoint: when the group cannot load this way
 * — a blob whose fields do not all go straight into the table, a COPY error, counts that do
 * not add up — it rolls back and returns undefined, and the caller loads blob by blob, which
 * names a bad value's blob, line and column. Transient errors throw (the group is retried).
 */
async function loadConcatenated(context: LoadContext, refs: readonly BlobRef[]): Promise<FileResult[] | undefined> {
  const { client, spec, options, env, ledgerSchema } = context;
  const run = { pipeline: spec.name, runId: options.runId };
  await client.query(`SAVEPOINT ${GROUP_SAVEPOINT}`);
  let copy: ConcatenatedCopy | undefined;
  const sources: CountedBlobSource[] = [];
  try {
    // The table first: a spec that no longer fits it fails even for blobs loaded before.
    const { table } = await describeTarget(context);
    const keys = refs.map((ref) => ledgerKey(spec, ref, env));
    const owned = await claimIngestions(client, ledgerSchema, keys, run);
    copy = new ConcatenatedCopy(client, quoteTable(table.table));
    const results: FileResult[] = [];
    const loads: Array<{ key: LedgerKey; counts: LedgerCompletion }> = [];
    /** Opens a blob and reads up to its first record. */
    const openDecoded = (ref: BlobRef) => {
      const source = blobSource(spec, ref, { env, abortSignal: options.abortSignal });
      sources.push(source);
      const decoded = (async () => {
        const file = (await sourceFiles(source, spec.source.format).next()).value as SourceFile;
        return file.decode({ tableColumns: table.columns, mapping: spec.mapping, skipBadRecords: false });
      })();
      // Awaited in its turn; a failure while the blob before it loads must not go unhandled.
      decoded.catch(() => undefined);
      return { source, decoded };
    };
    const prefetched: Array<ReturnType<typeof openDecoded> | undefined> = [];
    for (const [i, ref] of refs.entries()) {
      const started = performance.now();
      if (!owned[i]) {
        results.push(fileResult(ref, 'Skipped', started));
        continue;
      }
      const { source, decoded: decoding } = prefetched[i] ?? openDecoded(ref);
      // The next blob's request goes out now, so its first bytes are there when this one ends
      // (one blob ahead: a small blob's response waits in its socket, not in memory).
      const following = owned.indexOf(true, i + 1);
      if (following !== -1) prefetched[following] = openDecoded(refs[following]!);
      const decoded = await decoding;
      let rows = 0;
      if (decoded.fieldCount > 0) {
        const mapping = resolveMapping(decoded.mapping ?? spec.mapping, decoded.header, decoded.fieldCount, table.columns);
        if (!copiesDirectly({ spec, mapping, blob: ref, runId: options.runId })) throw new ConcatenationRefused(`${ref.name} needs more than COPY`);
        rows = await copy.append(decoded.body, mapping.columns.map((c) => c.column.name), decoded.copyOptions);
      } else {
        decoded.body.resume();
        await finished(decoded.body);
      }
      const counts = { rowsRead: rows, rowsCopied: rows, rowsSkipped: 0 };
      loads.push({ key: keys[i]!, counts: { ...counts, bytes: source.bytesRead } });
      results.push(fileResult(ref, 'Succeeded', started, { ...counts, dataRead: source.bytesRead }));
    }
    await copy.finish();
    await completeIngestions(client, ledgerSchema, loads);
    await client.query(`RELEASE SAVEPOINT ${GROUP_SAVEPOINT}`);
    return results;
  } catch (err) {
    for (const source of sources) source.destroy();
    copy?.abort();
    if (isTransient(err)) throw err;
    await client.query(`ROLLBACK TO SAVEPOINT ${GROUP_SAVEPOINT}`);
    context.target = undefined;
    return undefined;
  }
}

/**
 * One large blob through several COPY streams at once (sink/parallelCopy.ts), when the
 * spec asks for it (`sink.parallelCopies`, or a blob of 1 GiB or more) and the blob, the
 * table and the server allow it; undefined otherwise, and it loads through one stream.
 */
async function loadInParallel(spec: PipelineSpec, ref: BlobRef, options: CopyBlobOptions, env: Env): Promise<FileResult | undefined> {
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
    if (loaded.status === 'Skipped') return fileResult(ref, 'Skipped', started);
    return fileResult(ref, 'Succeeded', started, { rowsRead: loaded.rowsCopied, rowsCopied: loaded.rowsCopied, dataRead: loaded.dataRead });
  } catch (err) {
    const mapped = mapLoadError(err, { pipeline: spec.name, blob: ref.name });
    if (mapped instanceof TransientError) throw mapped;
    return fileResult(ref, 'Failed', started, { error: toFileErrorOutput(mapped) });
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
  const key = ledgerKey(spec, ref, env);
  let at: Location = { blob: ref.name, lineOffset: 0 };
  const source = blobSource(spec, ref, { env, abortSignal: options.abortSignal });
  try {
    // An archive is one transaction too: its entries each claim a ledger row
    // (`<blob url>/<entry>`) inside it, so a corrupt entry k rolls back entries 1..k-1.
    // The archive claims a row of its own as well, so a sweep's ledger filter
    // (loadedVersions) sees it loaded and does not schedule it again.
    const archive = isArchive(resolveCodec(spec.source.format.compressionCodec, ref.name));
    await checkTargetBeforeClaim(context);
    if (!(await claimIngestion(client, ledgerSchema, key, { pipeline: spec.name, runId: options.runId }))) {
      return fileResult(ref, 'Skipped', started);
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

/** How often a load's connection is looked at: a lock wait well before lock_timeout, a stall a few times per stall timeout. */
function watchInterval(lockTimeoutInMs: number, env: Env): number {
  const bound = Math.min(lockTimeoutInMs > 0 ? lockTimeoutInMs / 3 : Infinity, stallTimeoutMs(env) / 4);
  return Math.min(2_000, Math.max(250, Math.round(bound)));
}

export function ledgerKey(spec: PipelineSpec, ref: BlobRef, env: Env): LedgerKey {
  return { targetTable: displayTable(spec.sink.table), blobUrl: blobUrl(spec, ref.name, env), etag: normalizeEtag(ref.etag) };
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

/**
 * The target table and its writer, prepared. Described again after a pre-copy script (it
 * may change the table); once per transaction otherwise.
 */
async function describeTarget(context: LoadContext): Promise<{ table: TableInfo; writer: SinkWriter }> {
  if (context.target) return context.target;
  const { client, spec } = context;
  const target = { table: await describeTable(client, spec.sink.table), writer: await writerFor(spec.sink.writeMethod) };
  // Checks that need only the table (upsert keys, Citus) fail before the blob is read.
  await target.writer.prepare?.({ client, spec, table: target.table });
  if (!spec.sink.preCopyScript) context.target = target;
  return target;
}
