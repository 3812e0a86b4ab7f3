/**
 * Watches a load's connection from the outside while it runs: another session of the same
 * pool asks the server, every few seconds, whether the load's backend waits for a lock
 * (pg_blocking_pids) — and if so says who holds it, so a person sees why nothing moves
 * long before lock_timeout ends the wait. After a lock timeout (55P03) `blockers()` names
 * the sessions holding locks on the table, for the error message.
 *
 * Best effort: a check that fails (the pool is busy, the server is gone) is skipped; the
 * load's own connection decides what happens to the load.
 */
import type pg from 'pg';

/** One session holding a lock another waits for, as pg_stat_activity describes it. */
export interface Blocker {
  pid: number;
  applicationName: string;
  queryStart: string | null;
  state: string | null;
}

/** `pid 4711 (application_name "psql", query started 2026-11-28T10:00:00.000Z, idle in transaction)` */
export function describeBlockers(blockers: readonly Blocker[]): string {
  return blockers
    .map((b) => `pid ${b.pid} (application_name "${b.applicationName}", ${b.queryStart ? `query started ${b.queryStart}` : 'no query yet'}${b.state ? `, ${b.state}` : ''})`)
    .join(', ');
}

const SESSION_COLUMNS = `a.pid, a.application_name AS "applicationName", to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "queryStart", a.state`;

/** The sessions, other than `exceptPid`, that hold a granted lock on `table` (a quoted name). */
export async function lockHolders(pool: pg.Pool, table: string, exceptPid: number | undefined): Promise<Blocker[]> {
  const { rows } = await pool.query<Blocker>(
    `SELECT DISTINCT ${SESSION_COLUMNS} FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.relation = to_regclass($1) AND l.granted AND l.pid <> pg_backend_pid() AND l.pid IS DISTINCT FROM $2 ORDER BY a.pid`,
    [table, exceptPid ?? null],
  );
  return rows;
}

export interface LoadWatchOptions {
  /** How often to look. */
  everyMs: number;
  /** What the table is called in a notice. */
  table: string;
  notice: (line: string) => void;
}

/** Starts watching backend `pid`; stop() ends it (and waits for a check in flight). */
export function watchLoad(pool: pg.Pool, pid: number | undefined, options: LoadWatchOptions): { stop(): Promise<void> } {
  if (!pid) return { stop: async () => undefined };
  let said = '';
  let running: Promise<void> | undefined;
  const check = async () => {
    try {
      const { rows } = await pool.query<Blocker>(`SELECT ${SESSION_COLUMNS} FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids($1)) ORDER BY a.pid`, [pid]);
      const now = describeBlockers(rows);
      // Said once per set of blockers, not every few seconds.
      if (now && now !== said) options.notice(`  waiting  for a lock on ${options.table}, held by ${now}`);
      said = now;
    } catch {
      // Best effort (see above).
    }
  };
  const timer = setInterval(() => (running ??= check().finally(() => (running = undefined))), options.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
