/**
 * The prepared transactions of parallel loads (parallelCopy.ts): how they are named, how
 * many the server allows, and how they are resolved when their load did not finish.
 *
 * A parallel load runs one transaction per range. The first carries the ledger row and
 * commits normally; the others are `PREPARE TRANSACTION`d before it commits and
 * `COMMIT PREPARED` after (https://www.postgresql.org/docs/current/sql-prepare-transaction.html).
 * The ledger transaction's commit is the load's decision, so its transaction ID goes into
 * every gid: `blob2pg:<ledger xid>:<range>/<ranges>:<key hash>`. Whatever happened to the
 * loader, the fate of its prepared transactions follows from that one transaction's status
 * (`pg_xact_status`): committed → commit them, aborted → roll them back, in progress → the
 * loader is alive (it holds that transaction open) and resolves them itself. Unlike a look
 * at the ledger row, this cannot mistake another attempt's committed row for this one's.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { finishPreparedRace, type TransientError } from '../errors.js';
import type { LedgerKey } from './ledgerKey.js';
import { quoteLiteral } from './sql.js';

const GID_PREFIX = 'blob2pg:';

/** A pool, a client, or a wrapped client: anything that runs a query. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** The gid of range `index` (1-based: range 0 is the ledger transaction, never prepared). */
export function preparedGid(ledgerXid: string, index: number, ranges: number, key: LedgerKey): string {
  return `${GID_PREFIX}${ledgerXid}:${index}/${ranges}:${keyHash(key)}`;
}

function keyHash(key: LedgerKey): string {
  return createHash('sha256').update(JSON.stringify([key.targetTable, key.blobUrl, key.etag])).digest('hex').slice(0, 16);
}

/** The gids of range transactions of this blob version that are prepared in this database now. */
export async function preparedOf(client: Queryable, key: LedgerKey): Promise<string[]> {
  const { rows } = await client.query<{ gid: string }>(
    `SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'blob2pg:%:' || $1 ORDER BY prepared`,
    [keyHash(key)],
  );
  return rows.map((r) => r.gid);
}

/** The ledger transaction ID a gid names, or undefined for a gid that is not blob2pg's. */
function ledgerXidOf(gid: string): string | undefined {
  return /^blob2pg:(\d+):\d+\/\d+:[0-9a-f]+$/.exec(gid)?.[1];
}

/**
 * How many more transactions the server can hold prepared right now
 * (`max_prepared_transactions` minus those prepared); 0 when the feature is off.
 */
export async function preparedCapacity(client: Queryable): Promise<{ max: number; free: number }> {
  const { rows } = await client.query<{ max: number; used: number }>(
    `SELECT current_setting('max_prepared_transactions')::int AS max, (SELECT count(*) FROM pg_prepared_xacts)::int AS used`,
  );
  const { max, used } = rows[0]!;
  return { max, free: Math.max(0, max - used) };
}

/** `busy`: another session was finishing it at that moment (two sweeps racing), so this one left it. */
export type Resolution = 'committed' | 'rolled back' | 'left' | 'busy';

/**
 * Resolves the prepared transactions of parallel loads in this database whose ledger
 * transaction has ended (see the file comment), and returns what it did per gid. Those of
 * a loader still running are left to it. A gid resolved meanwhile by someone else (the
 * loader, another sweep) is skipped; one being resolved by someone else this very moment
 * is left to them (`busy`: the decision is the same, and failing the load that swept would
 * only retry it). Runs outside any transaction (COMMIT / ROLLBACK PREPARED cannot run
 * inside one).
 */
export async function resolvePreparedLoads(client: Queryable): Promise<Map<string, Resolution>> {
  const done = new Map<string, Resolution>();
  const { rows } = await client.query<{ gid: string }>(
    `SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND owner = current_user AND gid LIKE 'blob2pg:%' ORDER BY prepared`,
  );
  const byXid = new Map<string, string[]>();
  for (const { gid } of rows) {
    const xid = ledgerXidOf(gid);
    if (xid) byXid.set(xid, [...(byXid.get(xid) ?? []), gid]);
  }
  for (const [xid, gids] of byXid) {
    const status = await ledgerTransactionStatus(client, xid);
    // NULL: too old for the commit log to tell (cannot happen while these hold back the
    // xmin horizon); leave such a group for an operator rather than guess.
    const verb = status === 'committed' ? 'COMMIT' : status === 'aborted' ? 'ROLLBACK' : undefined;
    for (const gid of gids) {
      if (!verb) {
        done.set(gid, 'left');
        continue;
      }
      const busy = await settle(client, verb, gid);
      done.set(gid, busy ? 'busy' : verb === 'COMMIT' ? 'committed' : 'rolled back');
    }
  }
  return done;
}

/** `committed`, `aborted`, `in progress`, or null. */
export async function ledgerTransactionStatus(client: Queryable, xid: string): Promise<string | null> {
  const { rows } = await client.query<{ status: string | null }>(`SELECT pg_xact_status($1::xid8) AS status`, [xid]);
  return rows[0]!.status;
}

/**
 * COMMIT PREPARED / ROLLBACK PREPARED `gid`. A gid another session resolved first is done
 * (the decision is the same); one another session is resolving right now throws a
 * TransientError (errors.ts, finishPreparedRace).
 */
export async function finishPrepared(client: Queryable, verb: 'COMMIT' | 'ROLLBACK', gid: string): Promise<void> {
  const busy = await settle(client, verb, gid);
  if (busy) throw busy;
}

/** finishPrepared, but another session resolving the gid right now comes back as its TransientError. */
async function settle(client: Queryable, verb: 'COMMIT' | 'ROLLBACK', gid: string): Promise<TransientError | undefined> {
  try {
    await client.query(`${verb} PREPARED ${quoteLiteral(gid)}`);
    return undefined;
  } catch (err) {
    const race = finishPreparedRace(err, gid);
    if (race === undefined) throw err;
    return race === 'finished' ? undefined : race;
  }
}
