/**
 * The run log (DESIGN decision 9): what happened in each run and to each file, failures
 * included, for people and the run-history page. Beside the ledger, in the same schema, but
 * never in the load's transaction: each write is its own short transaction on a connection
 * checked out after the file's result is known, so a load that rolled back is still
 * recorded.
 *
 * Best effort by contract: a failure to write the run log is a warning (notice), never a
 * failed or rolled-back load. Every exported writer catches.
 */
import type pg from 'pg';
import type { Env } from '../connections/settings.js';
import { redactSecrets } from '../redact.js';
import { notice } from '../notices.js';
import { failedRun, type FileResult, type InFlightFile, type RunOutput } from '../run/output.js';
import { ledgerSchemaName } from '../sink/ledger.js';
import { poolFor, withClient } from '../sink/pool.js';
import { logContainerName, skipLogBlobName } from '../sink/skipLog.js';
import { withTransaction } from '../sink/transaction.js';
import { applyMarkedDdl, ddlMark, hasDdlMark } from '../sink/schemaMark.js';
import { quoteIdent } from '../sink/sql.js';
import type { PipelineSpec } from '../pipeline/spec.js';

/** What started a run; Rerun: the page's "rerun failed files". */
export type TriggerKind = 'BlobEvent' | 'Schedule' | 'HTTP' | 'CLI' | 'Rerun';

/** A file's lifecycle in the log: Retrying while a transient failure waits for its next attempt. */
export type LoggedFileStatus = FileResult['status'] | 'Retrying';

export const DEFAULT_RETENTION_DAYS = 30;

/** BLOB2PG_RUN_LOG_RETENTION_DAYS: runs that started longer ago are pruned (default 30). */
export function retentionDays(env: Env = process.env): number {
  const raw = env.BLOB2PG_RUN_LOG_RETENTION_DAYS;
  const days = raw === undefined || raw === '' ? DEFAULT_RETENTION_DAYS : Number(raw);
  return Number.isFinite(days) && days > 0 ? days : DEFAULT_RETENTION_DAYS;
}

/** Where a pipeline's run log lives: its sink connection, its ledger schema. */
export interface RunLogPlace {
  pool: pg.Pool;
  schema: string;
}

/** A place, or how to find it: resolved inside the writers, so a bad connection setting is a warning too. */
export type RunLogTarget = RunLogPlace | (() => RunLogPlace);

export function runLogTarget(spec: PipelineSpec, env: Env = process.env): RunLogPlace {
  return { pool: poolFor(spec.sink.connection, env), schema: ledgerSchemaName(spec.sink.ledgerSchema, env) };
}

const ensured = new WeakMap<object, Set<string>>();

/**
 * Creates the run log tables if missing, once per pool and schema; one statement when they
 * are current (the mark of their DDL, sink/schemaMark.ts).
 */
export async function ensureRunLog({ pool, schema }: RunLogPlace): Promise<void> {
  let done = ensured.get(pool);
  if (!done) ensured.set(pool, (done = new Set()));
  if (done.has(schema)) return;
  const statements = runLogDdl(schema);
  const table = `${quoteIdent(schema)}.runs`;
  const mark = ddlMark('run log', statements);
  await withClient(pool, async (client) => {
    if (!(await hasDdlMark(client, table, mark))) await applyMarkedDdl(client, { schema, table, mark, statements });
  });
  done.add(schema);
}

/** The run log's DDL, every statement of it (a change here changes the mark, so existing logs are upgraded). */
function runLogDdl(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.runs (
        run_id        text PRIMARY KEY,
        pipeline      text NOT NULL,
        trigger       text NOT NULL DEFAULT 'Unknown',
        started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at   timestamptz,
        status        text NOT NULL DEFAULT 'Running',
        files_loaded  int NOT NULL DEFAULT 0,
        files_skipped int NOT NULL DEFAULT 0,
        files_failed  int NOT NULL DEFAULT 0,
        rows_read     bigint NOT NULL DEFAULT 0,
        rows_copied   bigint NOT NULL DEFAULT 0,
        rows_skipped  bigint NOT NULL DEFAULT 0,
        bytes         bigint NOT NULL DEFAULT 0,
        copy_duration_ms bigint,
        error         text
      )`,
    // Keyset pagination of the runs list, newest first, all runs or one pipeline's.
    `CREATE INDEX IF NOT EXISTS runs_started ON ${s}.runs (started_at DESC, run_id DESC)`,
    `CREATE INDEX IF NOT EXISTS runs_pipeline_started ON ${s}.runs (pipeline, started_at DESC, run_id DESC)`,
    // Filtered by status too: without these a rare status (Failed) scans every run of the pipeline.
    `CREATE INDEX IF NOT EXISTS runs_status_started ON ${s}.runs (status, started_at DESC, run_id DESC)`,
    `CREATE INDEX IF NOT EXISTS runs_pipeline_status_started ON ${s}.runs (pipeline, status, started_at DESC, run_id DESC)`,
    `CREATE TABLE IF NOT EXISTS ${s}.run_files (
        run_id        text NOT NULL REFERENCES ${s}.runs ON DELETE CASCADE,
        blob          text NOT NULL,
        etag          text NOT NULL,
        status        text NOT NULL,
        rows_read     bigint NOT NULL DEFAULT 0,
        rows_copied   bigint NOT NULL DEFAULT 0,
        rows_skipped  bigint NOT NULL DEFAULT 0,
        bytes         bigint NOT NULL DEFAULT 0,
        duration_ms   bigint NOT NULL DEFAULT 0,
        attempts      int NOT NULL DEFAULT 1,
        error_message text,
        error_kind    text,
        line          bigint,
        column_name   text,
        sqlstate      text,
        blob_modified_at timestamptz,
        finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (run_id, blob, etag)
      )`,
    // Added after the first release of the run log: tables made before get them here.
    // skip_log: '<container>/<name>' of the file's skipped-rows log (sink/skipLog.ts), when it has one.
    `ALTER TABLE ${s}.run_files ADD COLUMN IF NOT EXISTS skip_log text`,
    // files_total / files_done: the orchestration's progress, written by the process running
    // the run (RunLogFollower) together with updated_at, its heartbeat.
    `ALTER TABLE ${s}.runs ADD COLUMN IF NOT EXISTS files_total int, ADD COLUMN IF NOT EXISTS files_done int`,
    // One row per file still loading (bytes read so far, its size), written by the copy's
    // heartbeat, deleted when the file's outcome is written: several copies of one run add up.
    `CREATE TABLE IF NOT EXISTS ${s}.run_progress (
      run_id     text NOT NULL REFERENCES ${s}.runs ON DELETE CASCADE,
      blob       text NOT NULL,
      etag       text NOT NULL,
      bytes_read bigint NOT NULL,
      size       bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (run_id, blob, etag)
    )`,
  ];
}

/** Runs best-effort: a run log that cannot be written is a warning, never a failed load. */
async function bestEffort(what: string, target: RunLogTarget, work: (place: RunLogPlace) => Promise<void>): Promise<void> {
  try {
    const place = typeof target === 'function' ? target() : target;
    await ensureRunLog(place);
    await work(place);
  } catch (err) {
    notice(`  warning  run log: could not record ${what}: ${redactSecrets((err as Error).message)} (the load itself is unaffected)`);
  }
}

export interface RunStart {
  runId: string;
  pipeline: string;
  trigger: TriggerKind;
  /**
   * The same instance ID started again (a blob event redelivered after its run ended without
   * loading the blob): the row is Running again; its file rows are replaced as files are copied.
   * A finished row is restarted this way even without the flag (the runtime that ran it is gone).
   */
  restarted?: boolean;
}

/** A run starts: its row (status Running), and runs past the retention pruned. */
export async function recordRunStart(target: RunLogTarget, run: RunStart, env: Env = process.env): Promise<void> {
  await bestEffort(`the start of run ${run.runId}`, target, async (place) => {
    await place.pool.query(
      `INSERT INTO ${quoteIdent(place.schema)}.runs (run_id, pipeline, trigger) VALUES ($1, $2, $3)
       ON CONFLICT (run_id) DO UPDATE SET
         trigger = CASE WHEN $4 OR runs.trigger = 'Unknown' THEN EXCLUDED.trigger ELSE runs.trigger END,
         -- A row that is finished belongs to an earlier execution of this instance ID (a
         -- redelivered event, here or in an earlier watch process): this one runs now.
         started_at = CASE WHEN runs.finished_at IS NULL THEN runs.started_at ELSE clock_timestamp() END,
         status = 'Running', finished_at = NULL, error = NULL, copy_duration_ms = NULL, files_total = NULL, files_done = NULL,
         updated_at = clock_timestamp()
       WHERE $4 OR runs.trigger = 'Unknown' OR runs.finished_at IS NOT NULL`,
      [run.runId, run.pipeline, run.trigger, Boolean(run.restarted)],
    );
    await pruneRuns(place, retentionDays(env));
  });
}

/** Deletes runs (and their files) that started more than `days` ago; returns how many. */
export async function pruneRuns({ pool, schema }: RunLogPlace, days: number): Promise<number> {
  const result = await pool.query(`DELETE FROM ${quoteIdent(schema)}.runs WHERE started_at < clock_timestamp() - make_interval(secs => $1::float8 * 86400)`, [days]);
  return result.rowCount ?? 0;
}

/** One file as the log keeps it. */
export interface LoggedFile {
  blob: string;
  etag: string;
  status: LoggedFileStatus;
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
  bytes: number;
  durationMs: number;
  error?: FileResult['error'];
  blobModifiedAt?: string;
  /** The attempts the run output counted; absent: the log counts the writes of this file itself. */
  attempts?: number;
  /** Its skipped-rows log, `<container>/<blob name>` in the source's storage account. */
  skipLog?: string;
}

/** A file result (or a retried one, status Retrying) as the log keeps it. */
export function loggedFile(file: Omit<FileResult, 'status'> & { status: LoggedFileStatus }, blobModifiedAt?: string, skipLog?: string): LoggedFile {
  return {
    blob: file.blob,
    etag: file.etag,
    status: file.status,
    rowsRead: file.rowsRead,
    rowsCopied: file.rowsCopied,
    rowsSkipped: file.rowsSkipped,
    bytes: file.dataRead,
    durationMs: file.durationMs,
    ...(file.error && { error: file.error }),
    ...(blobModifiedAt && { blobModifiedAt }),
    ...(file.attempts !== undefined && { attempts: file.attempts }),
    ...(skipLog && { skipLog }),
  };
}

/**
 * Where a loaded file's skipped rows went: a load in skip mode that skipped rows uploads
 * exactly this blob before it commits (sink/skipLog.ts), so a Succeeded file with skipped
 * rows has it. A failed load commits nothing; its rows are not "skipped", it has none.
 */
export function skipLogOf(spec: PipelineSpec, runId: string, file: { blob: string; status: LoggedFileStatus; rowsSkipped: number }, env: Env = process.env): string | undefined {
  if (file.status !== 'Succeeded' || !(file.rowsSkipped > 0)) return undefined;
  return `${logContainerName(spec, env)}/${skipLogBlobName(spec, runId, file.blob)}`;
}

/**
 * Files of a run as they finish (one copy activity's results, or a transient failure about
 * to be retried). Each write of a file counts an attempt, so a file retried twice then
 * loaded reads attempts 3. The run's counters are recomputed from its files.
 */
export async function recordFiles(target: RunLogTarget, run: { runId: string; pipeline: string }, files: readonly LoggedFile[]): Promise<void> {
  if (!files.length) return;
  await bestEffort(`${files.length} file(s) of run ${run.runId}`, target, (place) =>
    withClient(place.pool, (client) => withTransaction(client, () => writeFiles(client, place.schema, run, files))),
  );
}

async function writeFiles(client: pg.ClientBase, schema: string, run: { runId: string; pipeline: string }, files: readonly LoggedFile[]): Promise<void> {
  const s = quoteIdent(schema);
  // Locks the run's row first, so the counters below see every file committed before; the
  // files written are no longer loading (an archive's entries end its own progress row).
  await client.query(
    `WITH done AS (DELETE FROM ${s}.run_progress p WHERE p.run_id = $1
                     AND EXISTS (SELECT FROM unnest($3::text[]) AS w(blob) WHERE w.blob = p.blob OR left(w.blob, length(p.blob) + 1) = p.blob || '/'))
     INSERT INTO ${s}.runs (run_id, pipeline) VALUES ($1, $2) ON CONFLICT (run_id) DO UPDATE SET updated_at = clock_timestamp()`,
    [run.runId, run.pipeline, files.map((f) => f.blob)],
  );
  const col = <T>(pick: (f: LoggedFile) => T) => files.map(pick);
  await client.query(
    `INSERT INTO ${s}.run_files AS f (run_id, blob, etag, status, rows_read, rows_copied, rows_skipped, bytes, duration_ms, attempts,
                                      error_message, error_kind, line, column_name, sqlstate, blob_modified_at, skip_log)
     SELECT $1, u.blob, u.etag, u.status, u.rows_read, u.rows_copied, u.rows_skipped, u.bytes, u.duration_ms, coalesce(u.attempts, 1),
            u.error_message, u.error_kind, u.line, u.column_name, u.sqlstate, u.blob_modified_at, u.skip_log
       FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int4[],
                   $11::text[], $12::text[], $13::int8[], $14::text[], $15::text[], $16::timestamptz[], $18::text[])
            AS u(blob, etag, status, rows_read, rows_copied, rows_skipped, bytes, duration_ms, attempts,
                 error_message, error_kind, line, column_name, sqlstate, blob_modified_at, skip_log)
     ON CONFLICT (run_id, blob, etag) DO UPDATE SET
       status = EXCLUDED.status, rows_read = EXCLUDED.rows_read, rows_copied = EXCLUDED.rows_copied,
       rows_skipped = EXCLUDED.rows_skipped, bytes = EXCLUDED.bytes, duration_ms = EXCLUDED.duration_ms,
       attempts = CASE WHEN $17 THEN f.attempts + 1 ELSE greatest(f.attempts, EXCLUDED.attempts) END,
       error_message = EXCLUDED.error_message, error_kind = EXCLUDED.error_kind, line = EXCLUDED.line,
       column_name = EXCLUDED.column_name, sqlstate = EXCLUDED.sqlstate,
       blob_modified_at = coalesce(EXCLUDED.blob_modified_at, f.blob_modified_at),
       -- The run output's final write knows no log path; the copy's write did.
       skip_log = CASE WHEN EXCLUDED.status = 'Succeeded' THEN coalesce(EXCLUDED.skip_log, f.skip_log) END,
       finished_at = clock_timestamp()`,
    [
      run.runId,
      col((f) => f.blob),
      col((f) => f.etag),
      col((f) => f.status),
      col((f) => f.rowsRead),
      col((f) => f.rowsCopied),
      col((f) => f.rowsSkipped),
      col((f) => f.bytes),
      col((f) => Math.round(f.durationMs)),
      col((f) => f.attempts ?? null),
      col((f) => f.error?.message ?? null),
      col((f) => f.error?.kind ?? null),
      col((f) => f.error?.line ?? null),
      col((f) => f.error?.column ?? null),
      col((f) => f.error?.sqlstate ?? null),
      col((f) => f.blobModifiedAt ?? null),
      // A write from an attempt counts it; the run output's final write carries the count.
      files.every((f) => f.attempts === undefined),
      col((f) => f.skipLog ?? null),
    ],
  );
  await client.query(
    `UPDATE ${s}.runs AS r SET
       files_loaded = a.loaded, files_skipped = a.skipped, files_failed = a.failed,
       rows_read = a.rows_read, rows_copied = a.rows_copied, rows_skipped = a.rows_skipped, bytes = a.bytes,
       updated_at = clock_timestamp()
     FROM (SELECT count(*) FILTER (WHERE status = 'Succeeded') AS loaded,
                  count(*) FILTER (WHERE status = 'Skipped') AS skipped,
                  count(*) FILTER (WHERE status = 'Failed') AS failed,
                  coalesce(sum(rows_read), 0) AS rows_read, coalesce(sum(rows_copied), 0) AS rows_copied,
                  coalesce(sum(rows_skipped), 0) AS rows_skipped, coalesce(sum(bytes), 0) AS bytes
             FROM ${s}.run_files WHERE run_id = $1) AS a
     WHERE r.run_id = $1`,
    [run.runId],
  );
}

/**
 * The run output: the run is over. Its files as the output has them (a file whose retries
 * ran out becomes Failed here), its status, duration and the run-level error.
 */
export async function recordRunOutput(target: RunLogTarget, output: RunOutput): Promise<void> {
  await bestEffort(`the end of run ${output.runId}`, target, async (place) => {
    const { schema } = place;
    await withClient(place.pool, (client) =>
      withTransaction(client, async () => {
        const run = { runId: output.runId, pipeline: output.pipeline };
        const files = output.files.map((f) => loggedFile({ ...f, attempts: f.attempts ?? 1 }));
        if (files.length) await writeFiles(client, schema, run, files);
        else await client.query(`INSERT INTO ${quoteIdent(schema)}.runs (run_id, pipeline) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [run.runId, run.pipeline]);
        // The output's counters also cover the files no copy wrote here: those the listing
        // found already in the ledger (skipped without a copy) and, from the orchestration,
        // files whose log write was lost. A run that failed as a whole counts nothing: greatest
        // keeps what its files recorded.
        // The run is over: nothing of it is loading any more.
        await client.query(
          `WITH done AS (DELETE FROM ${quoteIdent(schema)}.run_progress WHERE run_id = $1)
           UPDATE ${quoteIdent(schema)}.runs SET status = $2, error = $3, copy_duration_ms = $4,
             files_loaded = greatest(files_loaded, $5), files_skipped = greatest(files_skipped, $6),
             rows_read = greatest(rows_read, $7), rows_copied = greatest(rows_copied, $8), rows_skipped = greatest(rows_skipped, $9),
             bytes = greatest(bytes, $10), finished_at = clock_timestamp(), updated_at = clock_timestamp()
           WHERE run_id = $1`,
          [output.runId, output.status, output.error ?? null, Math.round(output.copyDurationMs), output.filesRead, output.filesSkipped, output.rowsRead, output.rowsCopied, output.rowsSkipped, output.dataRead],
        );
      }),
    );
  });
}

/** BLOB2PG_RUN_HEARTBEAT_SECONDS: how often a process working on a run says so (default 30). */
export function heartbeatMs(env: Env = process.env): number {
  const seconds = Number(env.BLOB2PG_RUN_HEARTBEAT_SECONDS || 30);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 30) * 1000;
}

/**
 * The process is still working on the run: updated_at now, the orchestration's progress
 * when known, and the files it is loading (bytes read so far), all in one statement. A
 * finished row is left alone (the end may have been recorded between the caller's look at
 * the run and this write), and so are its files.
 */
export async function recordHeartbeat(target: RunLogTarget, runId: string, progress?: { filesTotal: number; filesDone: number }, loading: readonly InFlightFile[] = []): Promise<void> {
  await bestEffort(`the progress of run ${runId}`, target, async (place) => {
    const s = quoteIdent(place.schema);
    const beat = `UPDATE ${s}.runs SET updated_at = clock_timestamp(),
         files_total = coalesce($2, files_total), files_done = coalesce($3, files_done)
       WHERE run_id = $1 AND finished_at IS NULL`;
    const params = [runId, progress?.filesTotal ?? null, progress?.filesDone ?? null];
    if (!loading.length) return void (await place.pool.query(beat, params));
    await place.pool.query(
      `WITH beat AS (${beat} RETURNING run_id)
       INSERT INTO ${s}.run_progress AS p (run_id, blob, etag, bytes_read, size)
       SELECT beat.run_id, u.blob, u.etag, u.bytes_read, u.size FROM beat, unnest($4::text[], $5::text[], $6::int8[], $7::int8[]) AS u(blob, etag, bytes_read, size)
       ON CONFLICT (run_id, blob, etag) DO UPDATE SET bytes_read = EXCLUDED.bytes_read, size = EXCLUDED.size, updated_at = clock_timestamp()`,
      [...params, loading.map((f) => f.blob), loading.map((f) => f.etag), loading.map((f) => f.bytesRead), loading.map((f) => f.size)],
    );
  });
}

/**
 * Runs `work` with a heartbeat for the run every heartbeatMs (the copy activity: a long load
 * is not an abandoned run), carrying `loading()`, the files it is reading. A beat still
 * being written is awaited, so it cannot land after the files' outcome.
 */
export async function withHeartbeat<T>(target: RunLogTarget, runId: string, env: Env, work: () => Promise<T>, loading?: () => InFlightFile[]): Promise<T> {
  let beating: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beating = beating.then(() => recordHeartbeat(target, runId, undefined, loading?.()));
  }, heartbeatMs(env));
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await beating;
  }
}

/** A run its process stopped before it finished (watch stopped with runs waiting): recorded as Abandoned. */
export async function recordAbandoned(target: RunLogTarget, runId: string, reason: string): Promise<void> {
  await bestEffort(`the end of run ${runId}`, target, async (place) => {
    await place.pool.query(
      `UPDATE ${quoteIdent(place.schema)}.runs SET status = 'Abandoned', error = $2, finished_at = clock_timestamp(), updated_at = clock_timestamp()
        WHERE run_id = $1 AND finished_at IS NULL`,
      [runId, reason],
    );
  });
}

/** The pipeline's runs of one trigger whose end the log does not have yet, newest first. Throws (not best effort): callers decide on it. */
export async function unfinishedRuns({ pool, schema }: RunLogPlace, pipeline: string, trigger: TriggerKind): Promise<string[]> {
  const { rows } = await pool.query<{ run_id: string }>(
    `SELECT run_id FROM ${quoteIdent(schema)}.runs WHERE pipeline = $1 AND trigger = $2 AND finished_at IS NULL ORDER BY started_at DESC, run_id DESC`,
    [pipeline, trigger],
  );
  return rows.map((r) => r.run_id);
}

/** An orchestration's end as the durable client reports it; undefined: no such instance. */
export type OrchestrationEnd = { runtimeStatus: string; output?: unknown } | undefined;

/**
 * A run whose orchestration is over while its log row is unfinished (in Azure the
 * orchestrator itself does no I/O): completed from its output, or Failed saying how it
 * ended. No orchestration at all: the process stopped between the row and the start, or
 * the history was purged.
 */
export async function recordOrchestrationEnd(target: RunLogTarget, pipeline: string, runId: string, status: OrchestrationEnd): Promise<void> {
  const output =
    status?.runtimeStatus === 'Completed'
      ? (status.output as RunOutput)
      : failedRun(pipeline, runId, status ? `the orchestration ${status.runtimeStatus.toLowerCase()}` : 'no orchestration has this run ID: the process stopped before starting it, or its history was purged');
  await recordRunOutput(target, { ...output, pipeline: output.pipeline || pipeline });
}
