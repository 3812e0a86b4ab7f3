/**
 * A mark of the DDL that made a table, so a process can tell in one statement that the
 * ledger (ledger.ts) or the run log (runLog/store.ts) is already in its current shape and
 * skip its CREATE … IF NOT EXISTS / ALTER … IF NOT EXISTS statements altogether (a one-row
 * `run` sent ~20 of them, each a round trip, before loading anything).
 *
 * The mark is a hash of the DDL statements' own text, kept as the table's comment: any
 * change to the DDL (a new column, a new index) changes the mark, so the next process runs
 * the whole DDL again, which upgrades a table made by an earlier version. A table without
 * the mark (made before marks, or by hand) is simply brought up to date the same way.
 */
import type pg from 'pg';
import { quoteLiteral } from './sql.js';
import { withTransaction } from './transaction.js';

/** `blob2pg <part> <hash>`: FNV-1a (32 bit) of the statements, in order. */
export function ddlMark(part: string, statements: readonly string[]): string {
  let hash = 0x811c9dc5;
  for (const statement of statements) {
    for (let i = 0; i < statement.length; i++) hash = Math.imul(hash ^ statement.charCodeAt(i), 0x01000193) >>> 0;
    hash = Math.imul(hash ^ 0x0a, 0x01000193) >>> 0;
  }
  return `blob2pg ${part} ${hash.toString(16).padStart(8, '0')}`;
}

/** The text of the SELECT list item that is true when `table` (quoted, qualified) carries `mark`; $1 = table, $2 = mark. */
export const MARK_IS_CURRENT = `coalesce(obj_description(to_regclass($1), 'pg_class') = $2, false)`;

/** One statement: does `table` carry `mark`? False when the table does not exist. */
export async function hasDdlMark(client: pg.ClientBase, table: string, mark: string): Promise<boolean> {
  const { rows } = await client.query<{ current: boolean }>(`SELECT ${MARK_IS_CURRENT} AS current`, [table, mark]);
  return rows[0]!.current;
}

/**
 * Runs `statements` in one transaction under the ledger schema's advisory lock (concurrent
 * CREATE … IF NOT EXISTS can still collide on the catalog; the ledger and the run log share
 * the lock), `before` and `after` them what the caller checks there, then marks `table`.
 */
export async function applyMarkedDdl(
  client: pg.ClientBase,
  ddl: { schema: string; table: string; mark: string; statements: readonly string[] },
  hooks: { before?: () => Promise<void>; after?: () => Promise<void> } = {},
): Promise<void> {
  await withTransaction(client, async () => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('blob2pg.ledger:' || $1))`, [ddl.schema]);
    await hooks.before?.();
    for (const statement of ddl.statements) await client.query(statement);
    await hooks.after?.();
    await setDdlMark(client, ddl.table, ddl.mark);
  });
}

/**
 * Inside the DDL's transaction, after it ran: sets the mark. Only the table's owner may
 * comment on it; a ledger created by someone else (an administrator) stays unmarked and
 * its DDL keeps running on each process's first use, as it always did.
 */
async function setDdlMark(client: pg.ClientBase, table: string, mark: string): Promise<void> {
  const { rows } = await client.query<{ owned: boolean }>(`SELECT pg_has_role(relowner, 'USAGE') AS owned FROM pg_class WHERE oid = to_regclass($1)`, [table]);
  if (rows[0]?.owned) await client.query(`COMMENT ON TABLE ${table} IS ${quoteLiteral(mark)}`);
}
