/**
 * What the run-history page reads from the run log (src/runLog/store.ts). The runs list
 * pages by keyset — (started_at, run_id) after the last row shown — on the runs_started /
 * runs_pipeline_started / runs_status_started / runs_pipeline_status_started indexes, so page 200 of 10,000 runs costs what page 1 does.
 */
import type { RunLogPlace } from '../runLog/store.js';
import { quoteIdent } from '../sink/sql.js';
import type { InFlightFile } from '../run/output.js';

export const PAGE_SIZE = 50;

export interface RunRow {
  runId: string;
  pipeline: string;
  trigger: string;
  startedAt: Date;
  finishedAt: Date | null;
  status: string;
  filesLoaded: number;
  filesSkipped: number;
  filesFailed: number;
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
  bytes: number;
  error: string | null;
  /** The last sign of life of the process running it (heartbeat, a file recorded). */
  updatedAt: Date;
  /** The orchestration's progress while it runs (local runs; null before the listing is done). */
  filesTotal: number | null;
  filesDone: number | null;
  /** Its files still loading, from their copies' heartbeats: how many, bytes read so far, their sizes. */
  loading: { files: number; bytesRead: number; size: number };
  /** Keyset cursor: started_at as the server prints it (full microsecond precision) and run_id. */
  cursor: string;
}

export interface FileRow {
  blob: string;
  etag: string;
  status: string;
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
  bytes: number;
  durationMs: number;
  attempts: number;
  errorMessage: string | null;
  errorKind: string | null;
  line: number | null;
  column: string | null;
  sqlstate: string | null;
  blobModifiedAt: Date | null;
  finishedAt: Date;
  /** Seconds from the blob's last-modified time to its load. */
  lagSeconds: number | null;
  /** Its skipped-rows log, `<container>/<blob name>`, when rows were skipped. */
  skipLog: string | null;
}

export interface RunFilter {
  pipeline?: string;
  status?: string;
  /** Cursor of the last row of the previous page. */
  after?: string;
}

/** BLOB2PG_RUN_ABANDONED_MINUTES: a Running run with no heartbeat for this long shows Abandoned (default 5). */
export function abandonedAfterSeconds(env: Record<string, string | undefined> = process.env): number {
  const minutes = Number(env.BLOB2PG_RUN_ABANDONED_MINUTES || 5);
  return (Number.isFinite(minutes) && minutes > 0 ? minutes : 5) * 60;
}

/** A Running row whose process stopped beating (killed) reads Abandoned; `$1` is abandonedAfterSeconds. */
const STALE = `(status = 'Running' AND updated_at < clock_timestamp() - make_interval(secs => $1::float8))`;

/** A run's columns; `s` is the quoted schema (its loading files are summed from run_progress, by primary key). */
const runColumns = (s: string) => `run_id, pipeline, trigger, started_at, finished_at, CASE WHEN ${STALE} THEN 'Abandoned' ELSE status END AS status,
  files_loaded, files_skipped, files_failed, rows_read, rows_copied, rows_skipped, bytes, error, updated_at, files_total, files_done,
  (SELECT array[count(*), coalesce(sum(bytes_read), 0), coalesce(sum(size), 0)] FROM ${s}.run_progress p WHERE p.run_id = runs.run_id) AS loading,
  started_at::text || '|' || run_id AS cursor`;

/** Where the page reads the run log, and after how long without a heartbeat a run is Abandoned. */
export interface RunLogView extends RunLogPlace {
  abandonedAfterSeconds: number;
}

function toRun(r: Record<string, unknown>): RunRow {
  return {
    runId: r.run_id as string,
    pipeline: r.pipeline as string,
    trigger: r.trigger as string,
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    status: r.status as string,
    filesLoaded: Number(r.files_loaded),
    filesSkipped: Number(r.files_skipped),
    filesFailed: Number(r.files_failed),
    rowsRead: Number(r.rows_read),
    rowsCopied: Number(r.rows_copied),
    rowsSkipped: Number(r.rows_skipped),
    bytes: Number(r.bytes),
    error: (r.error as string | null) ?? null,
    updatedAt: r.updated_at as Date,
    filesTotal: (r.files_total as number | null) ?? null,
    filesDone: (r.files_done as number | null) ?? null,
    loading: loadingOf(r.loading as string[] | null),
    cursor: r.cursor as string,
  };
}

function loadingOf(sums: string[] | null): RunRow['loading'] {
  const [files, bytesRead, size] = (sums ?? []).map(Number);
  return { files: files ?? 0, bytesRead: bytesRead ?? 0, size: size ?? 0 };
}

/** One page of runs, newest first, and the cursor of the next page when there is one. */
export async function listRuns(place: RunLogView, filter: RunFilter, pageSize = PAGE_SIZE): Promise<{ runs: RunRow[]; next?: string }> {
  const where: string[] = [];
  const params: unknown[] = [place.abandonedAfterSeconds];
  if (filter.pipeline) where.push(`pipeline = $${params.push(filter.pipeline)}`);
  // Abandoned: recorded so (a watch stopped with the run waiting) or stale; Running: not stale.
  if (filter.status === 'Abandoned') where.push(`(status = 'Abandoned' OR ${STALE})`);
  else if (filter.status === 'Running') where.push(`(status = 'Running' AND NOT ${STALE})`);
  else if (filter.status) where.push(`status = $${params.push(filter.status)}`);
  if (filter.after) {
    const bar = filter.after.indexOf('|');
    if (bar > 0) where.push(`(started_at, run_id) < ($${params.push(filter.after.slice(0, bar))}::timestamptz, $${params.push(filter.after.slice(bar + 1))})`);
  }
  const { rows } = await place.pool.query(
    `SELECT ${runColumns(quoteIdent(place.schema))} FROM ${quoteIdent(place.schema)}.runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY started_at DESC, run_id DESC LIMIT ${pageSize + 1}`,
    params,
  );
  const runs = rows.slice(0, pageSize).map(toRun);
  return rows.length > pageSize ? { runs, next: runs.at(-1)!.cursor } : { runs };
}

export async function getRun(place: RunLogView, runId: string): Promise<{ run: RunRow; files: FileRow[]; loading: InFlightFile[] } | undefined> {
  const s = quoteIdent(place.schema);
  const { rows } = await place.pool.query(`SELECT ${runColumns(s)} FROM ${s}.runs WHERE run_id = $2`, [place.abandonedAfterSeconds, runId]);
  if (!rows[0]) return undefined;
  const loading = await place.pool.query(`SELECT blob, etag, bytes_read, size FROM ${s}.run_progress WHERE run_id = $1 ORDER BY blob, etag`, [runId]);
  const files = await place.pool.query(
    `SELECT *, extract(epoch FROM finished_at - blob_modified_at)::float8 AS lag_seconds FROM ${s}.run_files WHERE run_id = $1
      ORDER BY (status = 'Failed') DESC, blob, etag`,
    [runId],
  );
  return {
    run: toRun(rows[0]),
    loading: loading.rows.map((f) => ({ blob: f.blob, etag: f.etag, bytesRead: Number(f.bytes_read), size: Number(f.size) })),
    files: files.rows.map((f) => ({
      blob: f.blob,
      etag: f.etag,
      status: f.status,
      rowsRead: Number(f.rows_read),
      rowsCopied: Number(f.rows_copied),
      rowsSkipped: Number(f.rows_skipped),
      bytes: Number(f.bytes),
      durationMs: Number(f.duration_ms),
      attempts: f.attempts,
      errorMessage: f.error_message,
      errorKind: f.error_kind,
      line: f.line === null ? null : Number(f.line),
      column: f.column_name,
      sqlstate: f.sqlstate,
      blobModifiedAt: f.blob_modified_at,
      finishedAt: f.finished_at,
      lagSeconds: f.lag_seconds,
      skipLog: f.skip_log ?? null,
    })),
  };
}

export interface ChartPoint {
  runId: string;
  startedAt: Date;
  rowsCopied: number;
  /** The largest blob-modified → loaded time among the run's loaded files, in seconds. */
  lagSeconds: number | null;
}

/** A pipeline's last `limit` runs, oldest first, for the chart. */
export async function pipelineSeries(place: RunLogPlace, pipeline: string, limit = 100): Promise<ChartPoint[]> {
  const s = quoteIdent(place.schema);
  const { rows } = await place.pool.query(
    `SELECT r.run_id, r.started_at, r.rows_copied,
            (SELECT max(extract(epoch FROM f.finished_at - f.blob_modified_at))::float8 FROM ${s}.run_files f
              WHERE f.run_id = r.run_id AND f.status = 'Succeeded') AS lag_seconds
       FROM (SELECT * FROM ${s}.runs WHERE pipeline = $1 ORDER BY started_at DESC, run_id DESC LIMIT $2) r
      ORDER BY r.started_at, r.run_id`,
    [pipeline, limit],
  );
  return rows.map((r) => ({ runId: r.run_id, startedAt: r.started_at, rowsCopied: Number(r.rows_copied), lagSeconds: r.lag_seconds }));
}

/** Pipelines that have runs in the log, for the filter. */
export async function loggedPipelines(place: RunLogPlace): Promise<string[]> {
  // A loose index scan would be faster on millions of runs; retention keeps the table small.
  const { rows } = await place.pool.query(`SELECT DISTINCT pipeline FROM ${quoteIdent(place.schema)}.runs ORDER BY pipeline`);
  return rows.map((r) => r.pipeline as string);
}
