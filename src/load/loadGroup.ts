/**
 * A group of small blobs in the open transaction. When they are plain CSV copies into the
 * same columns, through one COPY (sink/groupCopy.ts) with the next blob prefetched;
 * otherwise, or when that COPY cannot load them, blob by blob with a savepoint each, so a
 * failed blob rolls back alone and the others go on. Each way names the blob an error
 * belongs to: one by one, the blob in its savepoint; in the shared COPY, the blob that owns
 * the line the server reports (or whose bytes were being sent).
 */
import { finished } from 'node:stream/promises';
import { isTransient } from '../errors.js';
import { isArchive, resolveCodec } from '../format/compression.js';
import { sourceFiles, type SourceFile } from '../format/index.js';
import { resolveMapping } from '../pipeline/mapping.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileResult } from '../run/output.js';
import { GroupCopy, GroupCopyRefused } from '../sink/groupCopy.js';
import { copiesDirectly } from '../sink/copyCommand.js';
import { connectionLossOf } from '../sink/index.js';
import { claimIngestions, completeIngestions, recordedByRun, type LedgerCompletion } from '../sink/ledger.js';
import type { LedgerKey } from '../sink/ledgerKey.js';
import { quoteTable } from '../sink/sql.js';
import { skipMode } from '../sink/stagedWrite.js';
import { withSavepoint } from '../sink/transaction.js';
import type { BlobRef } from '../source/blobs.js';
import { blobSource, type CountedBlobSource } from '../source/blobSource.js';
import { describeTarget, ledgerKey, type LoadContext } from './context.js';
import { loadBlob } from './loadBlob.js';
import { failedResult, fileResult, loadedBeforeResult, LoadFailure } from './result.js';

const BLOB_SAVEPOINT = 'blob2pg_blob';
const GROUP_SAVEPOINT = 'blob2pg_group';

/** Loads a group (two or more blobs): one COPY when it may and can, else blob by blob. Throws LoadFailure for a transient error. */
export async function loadGroup(context: LoadContext, refs: readonly BlobRef[]): Promise<FileResult[]> {
  const keys = refs.map((ref) => ledgerKey(context.spec, ref, context.env));
  const repeated = repeats(keys);
  return (mayConcatenate(context.spec, refs) && (await loadConcatenated(context, refs, keys, repeated))) || (await loadOneByOne(context, refs, repeated));
}

/**
 * For each blob, whether a blob before it in the group is the same version: the first loads
 * it, a repeat is Skipped. Said here, not by the ledger: a repeat finds the row this very
 * transaction wrote, which would look like one this run loaded before (loadedBeforeResult).
 */
function repeats(keys: readonly LedgerKey[]): boolean[] {
  const seen = new Set<string>();
  return keys.map((k) => {
    const id = JSON.stringify([k.blobUrl, k.etag]);
    const again = seen.has(id);
    seen.add(id);
    return again;
  });
}

/**
 * Blob by blob in the open transaction, each in its own savepoint: a blob with a data error
 * rolls back to it and reports Failed, and the others go on; a blob found loaded before
 * (Skipped) rolls back too, undoing anything it ran, such as an archive's pre-copy script.
 */
async function loadOneByOne(context: LoadContext, refs: readonly BlobRef[], repeated: readonly boolean[]): Promise<FileResult[]> {
  const { client, spec } = context;
  const results: FileResult[] = [];
  for (const [i, ref] of refs.entries()) {
    const started = performance.now();
    if (repeated[i]) {
      results.push(fileResult(ref, 'Skipped', started));
      continue;
    }
    try {
      results.push(await withSavepoint(client, BLOB_SAVEPOINT, () => loadBlob(context, ref), { keep: (result) => result.status !== 'Skipped' }));
    } catch (err) {
      const failure = LoadFailure.of(err, ref);
      if (isTransient(failure.error) || connectionLossOf(client)) throw failure;
      // Rolled back to its savepoint, which also dropped a table description it may have changed.
      context.target = undefined;
      results.push(failedResult(spec, ref, started, failure));
    }
  }
  return results;
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
 * A group of small blobs through one COPY, with their ledger rows claimed in one statement
 * and completed in another: the group costs the server about what one blob of the same rows
 * costs. Inside a savepoint: when the group cannot load this way — a blob whose fields do
 * not all go straight into the table, a COPY error, counts that do not add up — it rolls
 * back and returns undefined, and the caller loads blob by blob, which names a bad value's
 * blob, line and column. A transient error throws a LoadFailure naming the blob it belongs
 * to (the group is retried).
 */
async function loadConcatenated(context: LoadContext, refs: readonly BlobRef[], keys: readonly LedgerKey[], repeated: readonly boolean[]): Promise<FileResult[] | undefined> {
  const { client, spec, options, env, ledgerSchema } = context;
  const run = { pipeline: spec.name, runId: options.runId };
  let copy: GroupCopy | undefined;
  const sources: CountedBlobSource[] = [];
  /** The blob being opened or appended; the line mapping of each blob appended so far. */
  let current: number | undefined;
  const lineMaps: Array<{ lineOffset: number; lineOf?: (copyLine: number) => number }> = [];
  const load = async (): Promise<FileResult[]> => {
    // The table first: a spec that no longer fits it fails even for blobs loaded before.
    const { table } = await describeTarget(context);
    const owned = await claimIngestions(client, ledgerSchema, keys, run);
    // Versions found loaded (not repeats): what this run recorded for them, if it loaded them.
    const loadedBefore = [...refs.keys()].filter((i) => !owned[i] && !repeated[i]);
    const found = await recordedByRun(client, ledgerSchema, loadedBefore.map((i) => keys[i]!), options.runId);
    const recorded = new Map(loadedBefore.map((i, j) => [i, found[j]]));
    copy = new GroupCopy(client, quoteTable(table.table));
    const results: FileResult[] = [];
    const loads: Array<{ key: LedgerKey; counts: LedgerCompletion }> = [];
    /** Opens a blob and reads up to its first record. */
    const openDecoded = (i: number) => {
      const source = blobSource(spec, refs[i]!, { env, abortSignal: options.abortSignal });
      sources[i] = source;
      options.progress?.track(refs[i]!, () => source.bytesRead);
      const decoded = (async () => {
        const file = (await sourceFiles(source, spec.source.format).next()).value as SourceFile;
        return file.decode({ tableColumns: table.columns, mapping: spec.mapping, skipBadRecords: false });
      })();
      // Awaited in its turn; a failure while the blob before it loads must not go unhandled.
      decoded.catch(() => undefined);
      return decoded;
    };
    const prefetched: Array<ReturnType<typeof openDecoded> | undefined> = [];
    for (const [i, ref] of refs.entries()) {
      const started = performance.now();
      if (!owned[i]) {
        results.push(repeated[i] ? fileResult(ref, 'Skipped', started) : loadedBeforeResult(ref, started, recorded.get(i)));
        continue;
      }
      current = i;
      const decoding = prefetched[i] ?? openDecoded(i);
      // The next blob's request goes out now, so its first bytes are there when this one ends
      // (one blob ahead: a small blob's response waits in its socket, not in memory).
      const following = owned.indexOf(true, i + 1);
      if (following !== -1) prefetched[following] = openDecoded(following);
      const decoded = await decoding;
      lineMaps[i] = { lineOffset: decoded.lineOffset, lineOf: decoded.lineOf };
      let rows = 0;
      if (decoded.fieldCount > 0) {
        const mapping = resolveMapping(decoded.mapping ?? spec.mapping, decoded.header, decoded.fieldCount, table.columns);
        if (!copiesDirectly({ spec, mapping, blob: ref, runId: options.runId })) throw new GroupCopyRefused(`${ref.name} needs more than COPY`);
        rows = await copy.append(decoded.body, mapping.columns.map((c) => c.column.name), decoded.copyOptions, i);
      } else {
        decoded.body.resume();
        await finished(decoded.body);
      }
      const bytes = sources[i]!.bytesRead;
      const counts = { rowsRead: rows, rowsCopied: rows, rowsSkipped: 0 };
      loads.push({ key: keys[i]!, counts: { ...counts, bytes } });
      results.push(fileResult(ref, 'Succeeded', started, { ...counts, dataRead: bytes }));
    }
    current = undefined;
    await copy.finish();
    await completeIngestions(client, ledgerSchema, loads);
    return results;
  };
  try {
    return await withSavepoint(client, GROUP_SAVEPOINT, async () => {
      try {
        return await load();
      } catch (err) {
        // Nothing may be left running when the savepoint rolls back: its ROLLBACK TO would wait behind an open COPY.
        for (const source of sources) source?.destroy();
        copy?.abort();
        throw err;
      }
    });
  } catch (err) {
    if (isTransient(err)) throw groupFailure(err, copy, current, refs, sources, lineMaps);
    context.target = undefined;
    return undefined;
  }
}

/**
 * The blob a failure of the shared COPY belongs to: the one owning the COPY line the
 * server reports, else the one being opened or sent; the first blob when it was none
 * (the ledger claim, the table description).
 */
function groupFailure(
  err: unknown,
  copy: GroupCopy | undefined,
  current: number | undefined,
  refs: readonly BlobRef[],
  sources: readonly CountedBlobSource[],
  lineMaps: ReadonlyArray<{ lineOffset: number; lineOf?: (copyLine: number) => number }>,
): LoadFailure {
  const at = copy?.fileAt(err);
  const i = at?.file ?? current ?? 0;
  const lines = lineMaps[i];
  // A line of the shared COPY, as a record number of the owning blob, then as its file line.
  const first = at?.firstLine ?? 1;
  const lineOf = lines ? (copyLine: number) => (lines.lineOf ? lines.lineOf(copyLine - first + 1) : copyLine - first + 1 + lines.lineOffset) : undefined;
  return new LoadFailure(err, { blob: refs[i]!.name, lineOffset: 0, lineOf }, sources[i]?.bytesRead ?? 0);
}
