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
import { ConfigError } from '../errors.js';
import { withClient } from './pool.js';
import { resolvePreparedLoads } from './preparedLoads.js';
import { assertSupportedServer, rememberServerVersion } from './serverVersion.js';
import { MARK_IS_CURRENT, applyMarkedDdl, ddlMark } from './schemaMark.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { CITUS_PRESENT } from './tableInfo.js';
import type { LedgerKey } from './ledgerKey.js';

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

/**
 * Creates the ledger schema and table if missing, once per pool and schema. Also the
 * start-up sweep: prepared range transactions a crashed parallel load left behind
 * (preparedLoads.ts) hold locks on their table, so every process settles them before its
 * first load, whichever path that load takes (one query when there are none).
 */
export async function ensureLedger(pool: pg.Pool, schema: string): Promise<void> {
  let done = ensured.get(pool);
  if (!done) ensured.set(pool, (done = new Set()));
  if (done.has(schema)) return;
  const statements = ledgerDdl(schema);
  const table = `${quoteIdent(schema)}.ingestions`;
  const mark = ddlMark('ledger', statements);
  await withClient(pool, async (client) => {
    // The first statement of a pool's first load: an unsupported server fails here, by name.
    // It also asks whether the ledger is current (its mark, schemaMark.ts) and whether this is
    // Citus, where the whole check runs every time (the cluster may have distributed it since).
    const { rows } = await client.query<{ v: string; current: boolean; citus: boolean }>(
      `SELECT current_setting('server_version_num') AS v, ${MARK_IS_CURRENT} AS current, ${CITUS_PRESENT} AS citus`,
      [table, mark],
    );
    rememberServerVersion(client, Number(rows[0]!.v));
    await assertSupportedServer(client);
    await resolvePreparedLoads(client);
    if (rows[0]!.current && !rows[0]!.citus) return;
    await applyMarkedDdl(client, { schema, table, mark, statements }, { before: () => keepLedgerLocal(client), after: () => refuseDistributedLedger(client, schema) });
  });
  done.add(schema);
}

/** The ledger's DDL, every statement of it: its text is the ledger's mark (schemaMark.ts). */
function ledgerDdl(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.ingestions (
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
      )`,
    // Per-pipeline high-water marks of sweeps (sweepMarks.ts; source.highWaterMark).
    `CREATE TABLE IF NOT EXISTS ${s}.sweep_marks (
        pipeline       text NOT NULL,
        target_table   text NOT NULL,
        source         text NOT NULL,
        modified_after timestamptz NOT NULL,
        updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (pipeline, target_table, source)
      )`,
  ];
}

/**
 * On Citus the ledger must stay a plain table on the coordinator, written in the load's
 * transaction like any local table, whatever the cluster's settings: with
 * `citus.enable_schema_based_sharding` a new schema becomes a distributed schema (its tables
 * single-shard tables), with `citus.use_citus_managed_tables` a new table joins Citus'
 * metadata. Both are switched off for this transaction only; where a setting does not exist
 * (plain PostgreSQL, an older Citus) nothing is set.
 * https://docs.citusdata.com/en/stable/develop/api_guc.html
 */
async function keepLedgerLocal(client: pg.ClientBase): Promise<void> {
  await client.query(
    `SELECT set_config(name, 'off', true) FROM unnest(ARRAY['citus.enable_schema_based_sharding', 'citus.use_citus_managed_tables']) AS name
      WHERE current_setting(name, true) IS NOT NULL`,
  );
}

/** A ledger a Citus cluster made distributed before (an older blob2pg) is refused, naming the fix. */
async function refuseDistributedLedger(client: pg.ClientBase, schema: string): Promise<void> {
  const table = `${quoteIdent(schema)}.ingestions`;
  // pg_dist_schema exists from Citus 12.
  const catalogs = await client.query<{ partition: boolean; schemas: boolean }>(
    `SELECT ${CITUS_PRESENT} AS partition, to_regclass('pg_catalog.pg_dist_schema') IS NOT NULL AS schemas`,
  );
  const { partition, schemas } = catalogs.rows[0]!;
  if (!partition || !(await client.query(`SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass`, [table])).rowCount) return;
  const distributedSchema = schemas && Boolean((await client.query(`SELECT 1 FROM pg_dist_schema WHERE schemaid = $1::regnamespace`, [quoteIdent(schema)])).rowCount);
  const fix = distributedSchema ? `SELECT citus_schema_undistribute(${quoteLiteral(quoteIdent(schema))})` : `SELECT undistribute_table(${quoteLiteral(table)})`;
  throw new ConfigError(`the ledger ${table} is a Citus table; it must be a plain local table on the coordinator: run ${fix}`);
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
  // statement_timestamp(), not clock_timestamp(): Citus refuses VOLATILE functions in an
  // UPDATE of a distributed table (0A000), should a cluster ever hold the ledger as one.
  await client.query(
    `UPDATE ${quoteIdent(schema)}.ingestions AS i
        SET rows_read = c.rows_read, rows_copied = c.rows_copied, rows_skipped = c.rows_skipped, bytes = c.bytes, finished_at = statement_timestamp()
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

/**
 * What a load whose claim found these versions (of one target table) loaded answers, in the
 * keys' order: the counters recorded with the ledger row when this run wrote it — an earlier
 * attempt of the same activity whose COMMIT succeeded on the server though its answer was
 * lost (a connection reset), and Durable retried it — so the run's totals say what it
 * loaded; undefined when another run loaded it (Skipped). One statement for a whole group.
 * The keys must not include rows this transaction wrote itself (a version twice in a group).
 */
export async function recordedByRun(client: pg.ClientBase, schema: string, keys: readonly LedgerKey[], runId: string): Promise<Array<LedgerCompletion | undefined>> {
  if (keys.length === 0) return [];
  const { rows } = await client.query<{ n: string; rows_read: string | null; rows_copied: string | null; rows_skipped: string | null; bytes: string | null }>(
    `SELECT k.n, i.rows_read, i.rows_copied, i.rows_skipped, i.bytes
       FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(blob_url, etag, n)
       JOIN ${quoteIdent(schema)}.ingestions i ON i.target_table = $1 AND i.blob_url = k.blob_url AND i.etag = k.etag
      WHERE i.run_id = $4`,
    [sameTable(keys), keys.map((k) => k.blobUrl), keys.map((k) => k.etag), runId],
  );
  const recorded = new Map(
    rows.map((r) => [Number(r.n), { rowsRead: Number(r.rows_read ?? 0), rowsCopied: Number(r.rows_copied ?? 0), rowsSkipped: Number(r.rows_skipped ?? 0), bytes: Number(r.bytes ?? 0) }]),
  );
  return keys.map((_, i) => recorded.get(i + 1));
}

/**
 * Which of these versions of one target table's blobs are loaded (a committed ledger row),
 * in the keys' order: one statement for a whole page of a listing, the keys bound as
 * arrays, answered from the primary key. A sweep schedules only the others, so its cost
 * follows what is new rather than what was ever uploaded.
 */
export async function loadedVersions(db: pg.ClientBase, schema: string, keys: readonly LedgerKey[]): Promise<boolean[]> {
  if (keys.length === 0) return [];
  const result = await db.query<{ n: string }>(
    `SELECT k.n FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(blob_url, etag, n)
      WHERE EXISTS (SELECT 1 FROM ${quoteIdent(schema)}.ingestions i WHERE i.target_table = $1 AND i.blob_url = k.blob_url AND i.etag = k.etag)`,
    [sameTable(keys), keys.map((k) => k.blobUrl), keys.map((k) => k.etag)],
  );
  const loaded = new Set(result.rows.map((r) => Number(r.n)));
  return keys.map((_, i) => loaded.has(i + 1));
}
