/**
 * Watches a load's connection from the outside while it runs: another session of the same
 * pool asks the server, every few seconds, whether the load's backend waits for a lock
 * (pg_blocking_pids) — and if so says who holds it, so a person sees why nothing moves
 * long before lock_timeout ends the wait. After a lock timeout (55P03) `blockers()` names
 * the sessions holding locks on the table, for the error message.
 *
 * The same look notices a stalled connection (see watchLoad).
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
  /**
   * No progress for this long while the load waits on the connection is a stall: the
   * connection is cut (a TransientError for the load, which is retried) instead of waited
   * on for ever. 0: never.
   */
  stallTimeoutMs: number;
}

/** What pg keeps private and a stall watch needs: the socket and whether a query is out. */
interface ClientInternals {
  connection?: { stream?: { bytesRead?: number; bytesWritten?: number; writableLength?: number; destroy?(err: Error): void } };
  _getActiveQuery?(): unknown;
}

/**
 * Starts watching `client` (backend `pid`); stop() ends it (and waits for a check in flight).
 *
 * Stalled means: a query is out and, since the last progress, either our bytes sit unsent
 * in the socket (the server or the network takes nothing: a black-holed connection), or the
 * server says the backend is not working on it (idle, waiting on us, or gone) while no byte
 * of its answer arrived. Progress is any byte either way. A slow server (active, working)
 * or a slow source (nothing to send) is not a stall; a stalled source is the source's own
 * watch (source/resumableDownload.ts).
 */
export function watchLoad(pool: pg.Pool, client: pg.ClientBase, pid: number | undefined, options: LoadWatchOptions): { stop(): Promise<void> } {
  if (!pid) return { stop: async () => undefined };
  const internals = client as unknown as ClientInternals;
  let said = '';
  let running: Promise<void> | undefined;
  let lastBytes = -1;
  let lastProgressAt = Date.now();
  const check = async () => {
    const socket = internals.connection?.stream;
    const bytes = (socket?.bytesRead ?? 0) + (socket?.bytesWritten ?? 0) - (socket?.writableLength ?? 0);
    const waiting = Boolean(internals._getActiveQuery?.());
    if (bytes !== lastBytes || !waiting) {
      lastBytes = bytes;
      lastProgressAt = Date.now();
    }
    let backend: { state: string | null; waitEvent: string | null } | undefined;
    try {
      const { rows } = await pool.query<Blocker & { self: boolean; waitEvent: string | null }>(
        `SELECT ${SESSION_COLUMNS}, a.pid = $1 AS self, a.wait_event AS "waitEvent" FROM pg_stat_activity a
          WHERE a.pid = $1 OR a.pid = ANY(pg_blocking_pids($1)) ORDER BY a.pid`,
        [pid],
      );
      backend = rows.find((row) => row.self) ?? { state: null, waitEvent: null };
      const now = describeBlockers(rows.filter((row) => !row.self));
      // Said once per set of blockers, not every few seconds.
      if (now && now !== said) options.notice(`  waiting  for a lock on ${options.table}, held by ${now}`);
      said = now;
    } catch {
      // Best effort (see above).
    }
    const stalledFor = Date.now() - lastProgressAt;
    if (!options.stallTimeoutMs || stalledFor < options.stallTimeoutMs) return;
    const unsent = (socket?.writableLength ?? 0) > 0;
    // Sent in full: a plain query, or a COPY whose data has all been written.
    const active = internals._getActiveQuery?.() as { writableEnded?: boolean } | undefined;
    const sentAll = active !== undefined && active.writableEnded !== false;
    const serverWaits =
      backend !== undefined && (backend.state === null || backend.state.startsWith('idle') || backend.waitEvent === 'ClientWrite' || (sentAll && backend.waitEvent === 'ClientRead'));
    if (!unsent && !serverWaits) return;
    const why = unsent
      ? 'our bytes are not being taken'
      : backend!.state === null
        ? 'the server has no such session any more'
        : `the server is ${backend!.state}${backend!.waitEvent ? `, waiting for ${backend!.waitEvent}` : ''}, so what was sent did not arrive`;
    socket?.destroy?.(Object.assign(new Error(`the PostgreSQL connection stalled: no bytes either way for ${Math.round(stalledFor / 1000)} s while a statement was out (${why})`), { code: 'ETIMEDOUT' }));
    // The server may not notice for a long time (its side of the connection looks open), and
    // its open transaction holds the ledger row the retry needs: end that session too.
    await pool.query('SELECT pg_terminate_backend($1)', [pid]).catch(() => undefined);
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
