/**
 * Transactions and savepoints: the one implementation of BEGIN … COMMIT / ROLLBACK and
 * SAVEPOINT … RELEASE / ROLLBACK TO, used by the load (src/load/) and by every writer, the
 * stage and the ledger. It lives in the sink, below the writers that take savepoints, so
 * imports keep pointing down (load → sink).
 *
 * A rollback on a client whose connection is lost is not sent (the server has rolled back
 * already); a rollback that fails marks the client broken, so withClient (pool.ts) destroys
 * it instead of returning it to the pool, and the caller sees the error of the work.
 */
import type pg from 'pg';
import { connectionLossOf, markBroken } from './pool.js';

/**
 * BEGIN, `work`, COMMIT — or ROLLBACK when `work` throws or `commit(value)` says no.
 * `setup` statements run right after BEGIN (SET LOCAL …).
 */
export async function withTransaction<T>(
  client: pg.ClientBase,
  work: () => Promise<T>,
  options: { setup?: readonly string[]; commit?: (value: T) => boolean } = {},
): Promise<T> {
  await client.query('BEGIN');
  let value: T;
  try {
    for (const statement of options.setup ?? []) await client.query(statement);
    value = await work();
  } catch (err) {
    await undo(client, 'ROLLBACK');
    throw err;
  }
  if (options.commit && !options.commit(value)) await undo(client, 'ROLLBACK');
  else await client.query('COMMIT');
  return value;
}

/**
 * SAVEPOINT `name`, `work`, RELEASE — or ROLLBACK TO when `work` throws or `keep(value)`
 * says no; the transaction goes on either way. One savepoint per unit of work that may
 * fail alone (a blob of a group, a statement whose error is diagnosed), never one per
 * batch: many subtransactions per transaction overflow the per-backend subxid cache and
 * slow every snapshot on the server (https://www.postgresql.org/docs/current/subxacts.html).
 * `work` must leave no query running when it throws (end or destroy its COPY first):
 * the ROLLBACK TO is queued behind it.
 */
export async function withSavepoint<T>(client: pg.ClientBase, name: string, work: () => Promise<T>, options: { keep?: (value: T) => boolean } = {}): Promise<T> {
  await client.query(`SAVEPOINT ${name}`);
  let value: T;
  try {
    value = await work();
  } catch (err) {
    await undo(client, `ROLLBACK TO SAVEPOINT ${name}`);
    throw err;
  }
  if (options.keep && !options.keep(value)) await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
  else await client.query(`RELEASE SAVEPOINT ${name}`);
  return value;
}

/** A rollback after a failure: skipped on a lost connection, and a failed one marks the client broken. */
async function undo(client: pg.ClientBase, statement: string): Promise<void> {
  if (connectionLossOf(client)) return;
  await client.query(statement).catch((err: Error) => markBroken(client, err));
}
