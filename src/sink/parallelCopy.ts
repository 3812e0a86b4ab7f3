/**
 * One large CSV blob through several COPY streams at once, still all or nothing.
 *
 * A COPY is parsed and inserted by one backend, on one core. Here the blob is cut into N
 * byte ranges (format/csv/rangeSplit.ts: cuts guessed, then proven while they load), each
 * range is read with its own ranged GET and COPYed on its own connection, in its own
 * transaction. Atomicity is two-phase commit (https://www.postgresql.org/docs/current/two-phase.html):
 *
 *   1. range 0's transaction claims the ledger row first (a second load of the same blob
 *      version waits on it there, then finds it loaded — or proceeds if this one fails);
 *   2. every range COPYs; any failure rolls every transaction back;
 *   3. once all are done and every cut is proven, ranges 1…N-1 are PREPAREd
 *      (named by preparedGid: range 0's transaction ID, the range, the ledger key);
 *   4. range 0 — data and ledger row — COMMITs: that commit is the load's decision;
 *   5. ranges 1…N-1 are COMMIT PREPAREd.
 *
 * A crash between 3 and 5 leaves prepared transactions holding locks; resolvePreparedLoads
 * (preparedLoads.ts) settles them from range 0's transaction status, before every parallel
 * load and after it. Range 0 is not prepared itself: a normal commit is as durable, and
 * its status is then the one record of the decision.
 *
 * Only CopyCommand's direct path takes part (a staging table is a temporary table, which a
 * prepared transaction cannot hold), without pre/post-copy scripts (a TRUNCATE in one
 * range's transaction would block the others until it commits: a deadlock PostgreSQL
 * cannot see, since the wait closes through this process). Citus refuses PREPARE
 * TRANSACTION in a transaction that touched a distributed table ("cannot use 2PC in
 * transactions involving multiple servers"), so Citus tables load through one stream —
 * which Citus itself fans out to the shards.
 */
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { isTransient, locateCopyError, TransientError } from '../errors.js';
import { resolveCodec } from '../format/compression.js';
import type { CsvCopyOptions } from '../format/csv/dialect.js';
import { resolveFormat } from '../format/index.js';
import { CUT_WINDOW_BYTES, guessRecordStart, nominalCuts, RangeScan, readCsvHead, type CsvHead } from '../format/csv/rangeSplit.js';
import { resolveMapping } from '../pipeline/mapping.js';
import type { DelimitedTextFormat } from '../pipeline/formatSpec.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { BlobRef } from '../source/blobs.js';
import { openCopy } from './copyFromStdin.js';
import { copiesDirectly } from './copyCommand.js';
import { claimIngestion, completeIngestion, recordedByRun, type LedgerCompletion } from './ledger.js';
import type { LedgerKey } from './ledgerKey.js';
import { finishPrepared, ledgerTransactionStatus, preparedCapacity, preparedGid, preparedOf, resolvePreparedLoads } from './preparedLoads.js';
import { backendPid, checkOut, connectionLossOf, markBroken, withClient } from './pool.js';
import { quoteLiteral, quoteTable } from './sql.js';
import { skipMode } from './stagedWrite.js';
import type { TableInfo } from '../pipeline/table.js';
import { describeTable } from './tableInfo.js';

/** Without `sink.parallelCopies`, blobs of at least this size load through AUTO_STREAMS streams. */
export const AUTO_PARALLEL_BYTES = 1024 ** 3;
export const AUTO_STREAMS = 4;
/** How often a running load looks for a range blocked by another range (see watchConflicts). */
const CONFLICT_CHECK_MS = 500;

export interface ParallelCopyRequest {
  pool: pg.Pool;
  spec: PipelineSpec;
  ref: BlobRef;
  runId: string;
  key: LedgerKey;
  ledgerSchema: string;
  /** Bytes [start, end) of the blob version (one ranged GET, pinned to its ETag). */
  openRange(start: number, end: number): Promise<Readable>;
  /** The blob's size, when the listing did not say. */
  size(): Promise<number>;
}

/** Loaded now, or found loaded before (with what this run recorded then: ledger.ts, recordedByRun). */
export type ParallelOutcome = { status: 'Succeeded'; rowsCopied: number; dataRead: number } | { status: 'LoadedBefore'; recorded: LedgerCompletion | undefined };

/**
 * How many COPY streams the spec asks for this blob: `sink.parallelCopies`, or AUTO_STREAMS
 * for a blob of AUTO_PARALLEL_BYTES or more; 1 when the load cannot be split (see the file
 * comment): not CopyCommand, scripts, skip mode, compressed, or not delimited text.
 */
export function parallelCopiesFor(spec: PipelineSpec, ref: BlobRef): number {
  const { sink } = spec;
  const wanted = sink.parallelCopies ?? (ref.size >= AUTO_PARALLEL_BYTES ? AUTO_STREAMS : 1);
  if (wanted < 2 || sink.writeMethod !== 'CopyCommand' || sink.preCopyScript || sink.postCopyScript || skipMode({ spec })) return 1;
  if (resolveCodec(spec.source.format.compressionCodec, ref.name) !== 'none') return 1;
  try {
    return resolveFormat(spec.source.format, ref.name).type === 'DelimitedText' ? wanted : 1;
  } catch {
    return 1;
  }
}

/**
 * Loads the blob through up to `streams` COPY streams. Undefined when it turns out it
 * cannot (the server allows no prepared transactions, the file or table does not allow a
 * split, no free connections): nothing was written, and the caller loads it through one
 * stream. Throws DataError (located in the file) or a transient error.
 */
export async function copyInParallel(request: ParallelCopyRequest, streams: number): Promise<ParallelOutcome | undefined> {
  const { pool, spec, ref } = request;
  const { free } = await withConnection(pool, async (c) => {
    // Settle what a crashed load left (its prepared ranges hold locks and the xmin horizon).
    await resolvePreparedLoads(c);
    return preparedCapacity(c);
  });
  // Ranges 1…N-1 are prepared; range 0 commits normally.
  streams = Math.min(streams, free + 1);
  if (streams < 2) return undefined;
  const size = ref.size || (await request.size());
  const head = await readHead(request, resolveFormat(spec.source.format, ref.name) as DelimitedTextFormat, size);
  // Nothing after the header (or a file one stream reads anyway): one stream.
  if (!head || head.bodyStart >= size) return undefined;
  let starts = [head.bodyStart, ...(await guessStarts(request, head, size, streams))];
  try {
    for (;;) {
      const attempt = await loadRanges(request, head, starts, size);
      if (attempt.kind === 'refused') return undefined;
      if (attempt.kind === 'done') return attempt.outcome;
      // A cut that is not a record boundary: merge its range into the one before, load again.
      starts = starts.filter((_, i) => i !== attempt.cut);
    }
  } finally {
    await withConnection(pool, resolvePreparedLoads).catch(() => undefined);
  }
}

async function readHead(request: ParallelCopyRequest, format: DelimitedTextFormat, size: number): Promise<CsvHead | undefined> {
  if (size === 0) return undefined;
  const bytes = await request.openRange(0, size);
  try {
    return await readCsvHead(bytes, format);
  } finally {
    bytes.destroy();
  }
}

/** Guessed record starts near the nominal cuts, increasing, after the header. */
async function guessStarts(request: ParallelCopyRequest, head: CsvHead, size: number, streams: number): Promise<number[]> {
  const starts: number[] = [];
  for (const cut of nominalCuts(head.bodyStart, size, streams)) {
    const from = cut - 1;
    const to = Math.min(size, from + CUT_WINDOW_BYTES);
    const window = await readAll(await request.openRange(from, to));
    const start = guessRecordStart(window, from, head.fieldCount, head.recordOptions, to === size);
    if (start !== undefined && start > (starts[starts.length - 1] ?? head.bodyStart) && start < size) starts.push(start);
  }
  return starts;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * A checked-out client of one range. pool.ts records a lost connection (its 'error'
 * listener is on every client); a query on such a client fails with that error — a
 * classified, transient one — rather than pg's generic "not queryable".
 */
class RangeConnection {
  constructor(readonly client: pg.PoolClient) {}

  get lostWith(): Error | undefined {
    return connectionLossOf(this.client);
  }

  async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.client.query<R>(sql, params);
    } catch (err) {
      throw this.lostWith ?? err;
    }
  }

  /** Ends whatever transaction is open; a connection that cannot is not reused. */
  async rollback(): Promise<void> {
    if (this.lostWith) return;
    await this.client.query('ROLLBACK').catch((err: Error) => markBroken(this.client, err));
  }

  release(): void {
    this.client.release(this.lostWith);
  }
}

function withConnection<T>(pool: pg.Pool, fn: (connection: RangeConnection) => Promise<T>): Promise<T> {
  return withClient(pool, (client) => fn(new RangeConnection(client)));
}

type Attempt = { kind: 'done'; outcome: ParallelOutcome } | { kind: 'refused' } | { kind: 'unproven'; cut: number };

/** One attempt at loading the ranges that begin at `starts`, all or nothing. */
async function loadRanges(request: ParallelCopyRequest, head: CsvHead, starts: number[], size: number): Promise<Attempt> {
  const { pool, spec, ref, key, ledgerSchema, runId } = request;
  const connections: RangeConnection[] = [new RangeConnection(await checkOut(pool))];
  const ledger = connections[0]!;
  let prepared: string[] = [];
  try {
    await ledger.query('BEGIN');
    if (!(await claimIngestion(ledger.client, ledgerSchema, key, { pipeline: spec.name, runId }))) {
      await ledger.rollback();
      return { kind: 'done', outcome: await loadedBefore(ledger, request) };
    }
    const xid = (await ledger.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0]!.xid;
    const table = await describeTable(ledger.client, spec.sink.table);
    const mapping = resolveMapping(spec.mapping, head.header, head.fieldCount, table.columns);
    if ((await isCitusTable(ledger, table)) || !copiesDirectly({ spec, mapping, blob: ref, runId })) {
      await ledger.rollback();
      return { kind: 'refused' };
    }
    // Only connections the pool has free now: two loads each waiting for more than the
    // pool has left would wait for each other forever.
    const room = Math.max(0, (pool.options.max ?? 10) - pool.totalCount + pool.idleCount - pool.waitingCount);
    starts = spread(starts, 1 + room);
    const extra = await Promise.all(starts.slice(1).map(async () => new RangeConnection(await checkOut(pool))));
    connections.push(...extra);
    for (const connection of extra) await connection.query('BEGIN');

    const ranges = starts.map((start, i) => ({ start, end: starts[i + 1] ?? size }));
    const scans = ranges.map(() => new RangeScan(head));
    const columns = mapping.columns.map((c) => c.column.name);
    const copied = await copyAll(request, connections, ranges, scans, { target: quoteTable(table.table), columns, options: head.copyOptions });
    if (copied.failed) {
      await Promise.all(connections.map((c) => c.rollback()));
      if (copied.failed.error === CROSS_RANGE_CONFLICT) return { kind: 'refused' };
      if (isTransient(copied.failed.error)) throw copied.failed.error;
      // A data error: where in the file? (and is it real, or a range that began mid-record?)
      const before = await recordsBefore(request, head, ranges, scans, copied.finished, copied.failed.index);
      if (typeof before !== 'number') return before;
      throw locateCopyError(copied.failed.error, head.lineOffset + before);
    }
    const unproven = scans.findIndex((scan, i) => i < scans.length - 1 && !scan.endsOnBoundary);
    if (unproven !== -1) {
      await Promise.all(connections.map((c) => c.rollback()));
      return { kind: 'unproven', cut: unproven + 1 };
    }
    const rows = copied.rows.reduce((a, b) => a + b, 0);
    await completeIngestion(ledger.client, ledgerSchema, key, { rowsRead: rows, rowsCopied: rows, rowsSkipped: 0, bytes: size });

    const gids = extra.map((_, i) => preparedGid(xid, i + 1, extra.length, key));
    const preparing = await Promise.allSettled(extra.map((c, i) => c.query(`PREPARE TRANSACTION ${quoteLiteral(gids[i]!)}`)));
    prepared = gids.filter((_, i) => preparing[i]!.status === 'fulfilled');
    const refused = preparing.find((p): p is PromiseRejectedResult => p.status === 'rejected');
    if (refused) throw transientIfCapacity(refused.reason);

    // From COMMIT on, range 0's fate is the ranges' fate, and only a sweep that reads it
    // (resolvePreparedLoads, in copyInParallel's finally and before the next load) may roll
    // them back: a COMMIT whose answer is lost may still be landing ("in progress"), and
    // rolling the ranges back then would leave a ledger row over part of the rows.
    const committing = prepared;
    prepared = [];
    try {
      await ledger.query('COMMIT');
    } catch (err) {
      // Lost during COMMIT: it may have committed. The server knows.
      const status = await withConnection(pool, (c) => ledgerTransactionStatus(c, xid)).catch(() => null);
      if (status !== 'committed') throw err;
    }
    // Each range on its own connection; if that is lost, on range 0's (idle now), else a fresh one.
    const commitElsewhere = (gid: string) => (ledger.lostWith ? withConnection(pool, (c) => finishPrepared(c, 'COMMIT', gid)) : finishPrepared(ledger, 'COMMIT', gid));
    await Promise.all(committing.map((gid, i) => finishPrepared(extra[i]!, 'COMMIT', gid).catch(() => commitElsewhere(gid)))).catch((err: unknown) => {
      // The load is decided (range 0 committed); the sweep commits what is left.
      throw new TransientError(`loaded, but ${committing.length} prepared range transactions are not committed yet: ${(err as Error).message}`, { cause: err });
    });
    return { kind: 'done', outcome: { status: 'Succeeded', rowsCopied: rows, dataRead: size } };
  } catch (err) {
    // Nothing decided: undo what is prepared (a connection that cannot leaves it to the sweep).
    if (prepared.length) {
      const rollingBack = prepared;
      await withConnection(pool, async (c) => {
        for (const gid of rollingBack) await finishPrepared(c, 'ROLLBACK', gid);
      }).catch(() => undefined);
    }
    await Promise.all(connections.map((c) => c.rollback()));
    throw err;
  } finally {
    for (const connection of connections) connection.release();
  }
}

/**
 * The blob version's ledger row is committed: some load decided it. It is loaded only once
 * every range of that load has committed too — a load whose COMMIT PREPARED failed after
 * its range 0 committed (a transient error) leaves ranges prepared, their rows invisible:
 * they are committed here (resolvePreparedLoads: the decision is range 0's), and while any
 * stays prepared the answer is a transient error, not "loaded". Then what the ledger says,
 * as for a one-stream load: Succeeded if an earlier attempt of this same run loaded it (the
 * activity retried after that error), else Skipped (load/result.ts, loadedBeforeResult).
 */
async function loadedBefore(connection: RangeConnection, request: ParallelCopyRequest): Promise<ParallelOutcome> {
  const { key, ledgerSchema, runId } = request;
  await resolvePreparedLoads(connection);
  const pending = await preparedOf(connection, key);
  if (pending.length > 0) {
    throw new TransientError(`loaded, but ${pending.length} prepared range transactions of this blob are not committed yet (${pending.join(', ')})`);
  }
  return { status: 'LoadedBefore', recorded: (await recordedByRun(connection.client, ledgerSchema, [key], runId))[0] };
}

/** `starts` thinned to at most `n` ranges of about equal size (the first always kept). */
function spread(starts: number[], n: number): number[] {
  if (starts.length <= n) return starts;
  return Array.from({ length: n }, (_, i) => starts[Math.floor((i * starts.length) / n)]!);
}

async function isCitusTable(connection: RangeConnection, table: TableInfo): Promise<boolean> {
  const { rows } = await connection.query<{ citus: boolean }>(`SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL AS citus`);
  if (!rows[0]!.citus) return false;
  const dist = await connection.query(`SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1::regclass`, [quoteTable(table.table)]);
  return (dist.rowCount ?? 0) > 0;
}

/** "maximum number of prepared transactions reached" (another load took the last slot) is worth a retry. */
function transientIfCapacity(err: unknown): unknown {
  if (err instanceof Error && /prepared transactions/i.test(err.message) && !isTransient(err)) {
    return new TransientError(`preparing the range transactions: ${err.message}`, { cause: err });
  }
  return err;
}

/** Stands for "two ranges hold conflicting rows" (see watchConflicts). */
const CROSS_RANGE_CONFLICT = new Error('two ranges conflict');

interface CopyAllResult {
  rows: number[];
  /** Ranges whose COPY finished. */
  finished: boolean[];
  /** The first range to fail, and why; the others were stopped. */
  failed?: { index: number; error: unknown };
}

/** Every range through its own COPY at once; the first failure stops the others (CopyFail). */
async function copyAll(
  request: ParallelCopyRequest,
  connections: RangeConnection[],
  ranges: Array<{ start: number; end: number }>,
  scans: RangeScan[],
  copy: { target: string; columns: string[]; options: CsvCopyOptions },
): Promise<CopyAllResult> {
  const abort = new AbortController();
  const result: CopyAllResult = { rows: ranges.map(() => 0), finished: ranges.map(() => false) };
  const fail = (index: number, error: unknown) => {
    if (!result.failed) result.failed = { index, error };
    abort.abort();
  };
  const watcher = watchConflicts(connections, result.finished, abort.signal, () => fail(-1, CROSS_RANGE_CONFLICT));
  await Promise.all(
    ranges.map(async (range, i) => {
      const connection = connections[i]!;
      try {
        const body = await request.openRange(range.start, range.end);
        const stream = openCopy(connection.client, copy.target, copy.columns, copy.options);
        await pipeline(body, scans[i]!, stream, { signal: abort.signal });
        result.rows[i] = stream.rowCount;
        result.finished[i] = true;
      } catch (err) {
        fail(i, connection.lostWith ?? err);
      }
    }),
  );
  abort.abort();
  await watcher;
  return result;
}

/**
 * Rows of one range may wait on another range's uncommitted rows (the same key in a
 * unique index): that range waits for a transaction that only ends after every COPY has,
 * a cycle PostgreSQL's deadlock detector cannot see. While some ranges still run, one
 * that has finished (idle in its transaction) asks pg_blocking_pids whether a running one
 * waits on one of ours; if so the load stops, and the caller loads the blob through one
 * stream, which reports the duplicate with its line.
 */
async function watchConflicts(connections: RangeConnection[], finished: boolean[], signal: AbortSignal, onConflict: () => void): Promise<void> {
  const pids = connections.map((c) => backendPid(c.client) ?? 0);
  while (!signal.aborted) {
    await sleep(CONFLICT_CHECK_MS, undefined, { signal }).catch(() => undefined);
    const idle = finished.findIndex((done) => done);
    if (signal.aborted || idle === -1 || finished.every((done) => done)) continue;
    const running = pids.filter((_, i) => !finished[i]);
    try {
      const { rows } = await connections[idle]!.query<{ blocked: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM unnest($1::int[]) AS r(pid) WHERE pg_blocking_pids(r.pid) && $2::int[]) AS blocked`,
        [running, pids],
      );
      if (rows[0]!.blocked && !signal.aborted) onConflict();
    } catch {
      // The connection is lost: its own COPY result reports it.
      return;
    }
  }
}

/**
 * Records in the ranges before range `index`, proving each cut up to the end of range
 * `index` on the way (from a range's own scan when its COPY finished, by reading it again
 * otherwise). An unproven cut means the error may come from a range that began or ended
 * mid-record rather than from the data.
 */
async function recordsBefore(
  request: ParallelCopyRequest,
  head: CsvHead,
  ranges: Array<{ start: number; end: number }>,
  scans: RangeScan[],
  finished: boolean[],
  index: number,
): Promise<number | { kind: 'unproven'; cut: number }> {
  let records = 0;
  for (let i = 0; i <= index && i < ranges.length - 1; i++) {
    let scan = scans[i]!;
    // The load's scans proved cuts without counting (rangeSplit.ts, RangeScan): the ranges
    // before the failed one are read again to count their records; one whose COPY did not
    // finish, to prove where it ends.
    if (!finished[i] || (i < index && scan.records === undefined)) {
      scan = new RangeScan(head, { count: true });
      await pipeline(await request.openRange(ranges[i]!.start, ranges[i]!.end), scan, new Writable({ write: (_chunk, _encoding, done) => done() }));
    }
    if (!scan.endsOnBoundary) return { kind: 'unproven', cut: i + 1 };
    if (i < index) records += scan.records!;
  }
  return records;
}

/** For `validate`: why blobs of this spec would load through one stream on this server, if they would. */
export async function parallelCopyProblem(client: pg.ClientBase, spec: PipelineSpec): Promise<string | undefined> {
  if ((spec.sink.parallelCopies ?? 1) < 2) return undefined;
  const { max } = await preparedCapacity(client);
  if (max > 0) return undefined;
  return `sink.parallelCopies: the server has max_prepared_transactions = 0, so every blob loads through one COPY stream (a parallel load prepares one transaction per extra stream: set max_prepared_transactions to at least ${spec.sink.parallelCopies! - 1} times the loads that run at once)`;
}

