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
import { withClient, withTransaction } from './pool.js';
import { assertSupportedServer } from './serverVersion.js';
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
  await withClient(pool, async (client) => {
    // The first statement of a pool's first load: an unsupported server fails here, by name.
    await assertSupportedServer(client);
    await withTransaction(client, async () => {
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
    });
  });
  done.add(schema);
}

/** Inside the load's transaction: true when this load owns the blob version. */
export async function claimIngestion(client: pg.ClientBase, schema: string, key: LedgerKey, run: { pipeline: string; runId: string }): Promise<boolean> {
  return (await claimIngestions(client, schema, [key], run))[0]!;
}

/**
 * Claims several blob versions of one target table in one statement (a group of small
 * blobs): for each key, true when this load owns it. Rows are inserted in the keys' order,
 * so two loads of overlapping groups in the same (listing) order take their locks in the
 * same order.
 */
export async function claimIngestions(
  client: pg.ClientBase,
  schema: string,
  keys: readonly LedgerKey[],
  run: { pipeline: string; runId: string },
): Promise<boolean[]> {
  const table = sameTable(keys);
  const result = await client.query<{ blob_url: string; etag: string }>(
    `INSERT INTO ${quoteIdent(schema)}.ingestions (target_table, blob_url, etag, pipeline, run_id)
     SELECT $1, k.blob_url, k.etag, $4, $5 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(blob_url, etag, n) ORDER BY k.n
     ON CONFLICT DO NOTHING RETURNING blob_url, etag`,
    [table, keys.map((k) => k.blobUrl), keys.map((k) => k.etag), run.pipeline, run.runId],
  );
  const owned = new Set(result.rows.map((r) => JSON.stringify([r.blob_url, r.etag])));
  // The same version twice in one group: the first owns it, the second finds it loaded.
  return keys.map((k) => owned.delete(JSON.stringify([k.blobUrl, k.etag])));
}

export async function completeIngestion(client: pg.ClientBase, schema: string, key: LedgerKey, counts: LedgerCompletion): Promise<void> {
  await completeIngestions(client, schema, [{ key, counts }]);
}

/** Records the counters of several loaded blob versions of one target table in one statement. */
export async function completeIngestions(
  client: pg.ClientBase,
  schema: string,
  loads: ReadonlyArray<{ key: LedgerKey; counts: LedgerCompletion }>,
): Promise<void> {
  if (loads.length === 0) return;
  await client.query(
    `UPDATE ${quoteIdent(schema)}.ingestions AS i
        SET rows_read = c.rows_read, rows_copied = c.rows_copied, rows_skipped = c.rows_skipped, bytes = c.bytes, finished_at = clock_timestamp()
       FROM unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[]) AS c(blob_url, etag, rows_read, rows_copied, rows_skipped, bytes)
      WHERE i.target_table = $1 AND i.blob_url = c.blob_url AND i.etag = c.etag`,
    [
      sameTable(loads.map((l) => l.key)),
      loads.map((l) => l.key.blobUrl),
      loads.map((l) => l.key.etag),
      loads.map((l) => l.counts.rowsRead),
      loads.map((l) => l.counts.rowsCopied),
      loads.map((l) => l.counts.rowsSkipped),
      loads.map((l) => l.counts.bytes),
    ],
  );
}

function sameTable(keys: readonly LedgerKey[]): string {
  const table = keys[0]?.targetTable;
  if (table === undefined || keys.some((k) => k.targetTable !== table)) throw new Error('ledger keys of one call must name one target table');
  return table;
}
