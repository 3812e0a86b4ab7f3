/**
 * Finds the backends COPYing into a table, on every supported major: pg_stat_progress_copy
 * exists from PostgreSQL 14 only, so on 13 the COPY is found in pg_stat_activity by its text
 * (blob2pg always names the table as `"schema"."name"` in its COPY statements).
 */
import type { Harness } from './harness.js';

export interface CopyingOptions {
  /** Only COPYs that have read at least this many bytes (14+; on 13 any active COPY counts). */
  minBytes?: number;
  /** Only backends waiting on this event (e.g. `PgSleep` inside a trigger). */
  waitEvent?: string;
}

let serverVersion: Promise<number> | undefined;

/** pids of the backends COPYing into `schema.name` (unquoted, as in a spec's sink.table). */
export async function copyingBackends(h: Harness, table: string, options: CopyingOptions = {}): Promise<number[]> {
  serverVersion ??= h.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`).then((rows) => Number(rows[0]!.v));
  const quoted = table.split('.').map((part) => `"${part.replace(/"/g, '""')}"`).join('.');
  const sql = (await serverVersion) >= 140000
    ? `SELECT p.pid FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid)
        WHERE p.relid = to_regclass($1) AND p.bytes_processed >= $2 AND ($3::text IS NULL OR a.wait_event = $3)`
    : `SELECT pid FROM pg_stat_activity
        WHERE state = 'active' AND query LIKE 'COPY %' AND strpos(query, $1) > 0 AND $2::bigint >= 0 AND ($3::text IS NULL OR wait_event = $3)`;
  const rows = await h.query<{ pid: number }>(sql, [quoted, options.minBytes ?? 0, options.waitEvent ?? null]);
  return rows.map((r) => r.pid);
}
