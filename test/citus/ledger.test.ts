/**
 * The ledger on Citus: a plain local table on the coordinator whatever the cluster's
 * settings, and a spec that no longer fits its table failing even for blob versions the
 * ledger holds already.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validatePipeline } from '../../src/load/validate.js';
import { closePools } from '../../src/sink/index.js';
import { quoteIdent } from '../../src/sink/sql.js';
import { createHarness, uniqueName, type Harness } from '../support/harness.js';
import { describeCitus, distributedTable, expectCitusCluster, expectSucceeded, loadVersion, rowsOf } from './citus.js';

let h: Harness;
let rows: ReturnType<typeof rowsOf>;

/** A connection whose sessions run with these Citus settings (libpq `options`). */
function withSettings(url: string, settings: Record<string, string>): string {
  const u = new URL(url);
  u.searchParams.set('options', Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' '));
  return u.toString();
}

/** Runs `fn` on one session of `url`. */
async function inSession<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs `fn` with a ledger schema of its own, dropped afterwards (with the pools that used it). */
async function withLedger(prefix: string, fn: (ledger: string) => Promise<void>): Promise<void> {
  const ledger = uniqueName(prefix);
  try {
    await fn(ledger);
  } finally {
    await closePools();
    await h.query(`DROP SCHEMA IF EXISTS ${quoteIdent(ledger)} CASCADE`);
  }
}

describeCitus('the ledger on Citus', () => {
  beforeAll(async () => {
    h = await createHarness('cledger');
    rows = rowsOf(h);
    await expectCitusCluster(h);
  });
  afterAll(async () => h?.close());

  it('stays a local table when new schemas become distributed schemas and new tables Citus managed tables', async () => {
    const t = await distributedTable(h, 'sharded', 'tenant_id int, id int', 'tenant_id');
    await withLedger('ledger_sharded_', async (ledger) => {
      const sharded = withSettings(h.env.TARGET_POSTGRES, { 'citus.enable_schema_based_sharding': 'on', 'citus.use_citus_managed_tables': 'on' });
      // The settings do reach the sessions: a schema created there becomes distributed.
      const probe = uniqueName('probe_');
      await inSession(sharded, async (client) => {
        await client.query(`CREATE SCHEMA ${quoteIdent(probe)}`);
        expect((await client.query(`SELECT count(*)::int AS n FROM pg_dist_schema WHERE schemaid = $1::regnamespace`, [quoteIdent(probe)])).rows).toEqual([{ n: 1 }]);
        await client.query(`DROP SCHEMA ${quoteIdent(probe)} CASCADE`);
      });
      const spec = h.spec({ source: { prefix: 'sharded/' }, sink: { table: t } });
      const ref = await h.upload('sharded/a.csv', 'tenant_id,id\n1,1\n2,2\n');
      expectSucceeded(await loadVersion(h, spec, ref, 'r1', { ...h.env, TARGET_POSTGRES: sharded, BLOB2PG_LEDGER_SCHEMA: ledger }), { rowsCopied: 2 });
      expect(await h.query(`SELECT count(*)::int AS n FROM pg_dist_schema WHERE schemaid::regnamespace::text = $1`, [ledger])).toEqual([{ n: 0 }]);
      expect(await h.query(`SELECT count(*)::int AS n FROM pg_dist_partition WHERE logicalrelid = $1::regclass`, [`${quoteIdent(ledger)}.ingestions`])).toEqual([{ n: 0 }]);
      expect(await h.query(`SELECT rows_copied::int, finished_at IS NOT NULL AS finished FROM ${quoteIdent(ledger)}.ingestions`)).toEqual([{ rows_copied: 2, finished: true }]);
      expect(await rows(`SELECT count(*)::int AS n FROM S.sharded`)).toEqual([{ n: 2 }]);
    });
  });

  it('a ledger an older version let Citus distribute is refused, naming the command that fixes it', async () => {
    const t = await distributedTable(h, 'old_ledger', 'tenant_id int, id int', 'tenant_id');
    await withLedger('ledger_dist_', async (ledger) => {
      await inSession(withSettings(h.env.TARGET_POSTGRES, { 'citus.enable_schema_based_sharding': 'on' }), async (client) => {
        await client.query(`CREATE SCHEMA ${quoteIdent(ledger)}`);
        await client.query(`CREATE TABLE ${quoteIdent(ledger)}.ingestions (target_table text, blob_url text, etag text, pipeline text, run_id text,
          rows_read bigint, rows_copied bigint, rows_skipped bigint, bytes bigint, started_at timestamptz DEFAULT clock_timestamp(), finished_at timestamptz,
          PRIMARY KEY (target_table, blob_url, etag))`);
      });
      const spec = h.spec({ source: { prefix: 'oldledger/' }, sink: { table: t } });
      const ref = await h.upload('oldledger/a.csv', 'tenant_id,id\n1,1\n');
      const result = await loadVersion(h, spec, ref, 'r1', { ...h.env, BLOB2PG_LEDGER_SCHEMA: ledger });
      expect(result.status).toBe('Failed');
      expect(result.error!.message).toContain(`must be a plain local table on the coordinator: run SELECT citus_schema_undistribute('"${ledger}"')`);
      expect(await rows(`SELECT count(*)::int AS n FROM S.old_ledger`)).toEqual([{ n: 0 }]);
    });
  });

  it('a blob version in the ledger is not reported Skipped once the spec no longer fits the table', async () => {
    const t = await distributedTable(h, 'respec', 'tenant_id int, id int, v text, PRIMARY KEY (tenant_id, id)', 'tenant_id');
    const good = h.spec({ source: { prefix: 'respec/' }, sink: { table: t, writeMethod: 'Upsert', upsertSettings: { keys: ['tenant_id', 'id'] } } });
    const ref = await h.upload('respec/a.csv', 'tenant_id,id,v\n1,1,a\n');
    expectSucceeded(await loadVersion(h, good, ref), { rowsCopied: 1 });
    // Another run finds it loaded (the same run would be told what it loaded: Succeeded).
    expect((await loadVersion(h, good, ref, 'r2')).status).toBe('Skipped');
    const bad = h.spec({ source: { prefix: 'respec/' }, sink: { table: t, writeMethod: 'Upsert', upsertSettings: { keys: ['id'] } } });
    const result = await loadVersion(h, bad, ref);
    expect(result.status).toBe('Failed');
    expect(result.error!.message).toContain('must include its distribution column "tenant_id"');
    expect(await validatePipeline(bad, h.env)).toEqual([expect.stringContaining('must include its distribution column "tenant_id"')]);
    expect(await validatePipeline(good, h.env)).toEqual([]);
  });
});
