/**
 * The ingestion ledger: one row per (target table, blob URL, ETag), written in the same
 * transaction as the data (DESIGN decision 3). Activities run at least once; the ledger
 * makes loads exactly once.
 *
 * The row is claimed FIRST, with INSERT … ON CONFLICT DO NOTHING: a second, concurrent
 * load of the same blob version blocks on the first one's uncommitted row, then sees the
 * conflict once it commits (→ Skipped) or proceeds if it rolled back. No data is loaded twice.
 */
import type pg from 'pg';
import { quoteIdent } from './sql.js';

export interface LedgerKey {
  targetTable: string;
  blobUrl: string;
  etag: string;
}

export interface LedgerCompletion {
  rowsRead: number;
  rowsCopied: number;
  rowsSkipped: number;
  bytes: number;
}

export function ledgerSchemaName(explicit: string | undefined, env: Record<string, string | undefined> = process.env): string {
  return explicit ?? env.BLOB2PG_LEDGER_SCHEMA ?? 'blob2pg';
}

const ensured = new WeakMap<object, Set<string>>();

/** Creates the ledger schema and table if missing, once per pool and schema. */
export async function ensureLedger(pool: pg.Pool, schema: string): Promise<void> {
  let done = ensured.get(pool);
  if (!done) ensured.set(pool, (done = new Set()));
  if (done.has(schema)) return;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Concurrent CREATE … IF NOT EXISTS can still collide on the catalog; serialise it.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('blob2pg.ledger:' || $1))`, [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.ingestions (
      target_table text NOT NULL,
      blob_url     text NOT NULL,
      etag         text NOT NULL,
      pipeline     text NOT NULL,
      run_id       text NOT NULL,
      rows_read    bigint,
      rows_copied  bigint,
      rows_skipped bigint,
      bytes        bigint,
      started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
      finished_at  timestamptz,
      PRIMARY KEY (target_table, blob_url, etag)
    )`);
    await client.query('COMMIT');
    done.add(schema);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Inside the load's transaction: true when this load owns the blob version. */
export async function claimIngestion(client: pg.ClientBase, schema: string, key: LedgerKey, run: { pipeline: string; runId: string }): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO ${quoteIdent(schema)}.ingestions (target_table, blob_url, etag, pipeline, run_id)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1`,
    [key.targetTable, key.blobUrl, key.etag, run.pipeline, run.runId],
  );
  return result.rowCount === 1;
}

export async function completeIngestion(client: pg.ClientBase, schema: string, key: LedgerKey, counts: LedgerCompletion): Promise<void> {
  await client.query(
    `UPDATE ${quoteIdent(schema)}.ingestions
        SET rows_read = $4, rows_copied = $5, rows_skipped = $6, bytes = $7, finished_at = clock_timestamp()
      WHERE target_table = $1 AND blob_url = $2 AND etag = $3`,
    [key.targetTable, key.blobUrl, key.etag, counts.rowsRead, counts.rowsCopied, counts.rowsSkipped, counts.bytes],
  );
}
