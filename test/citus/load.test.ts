/**
 * Loads into Citus tables on a real cluster (test/citus/run.sh): COPY and BulkInsert into a
 * distributed table, Upsert on both key paths, a reference table, skip mode with a NULL
 * distribution column, the seed scenario's pre-copy script + post-copy CALL, and two runs
 * of one pipeline racing.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validatePipeline } from '../../src/load/validate.js';
import { runPipeline } from '../../src/local/run.js';
import { createHarness, uniqueName, type Harness } from '../support/harness.js';
import { describeCitus, distributedTable, expectCitusCluster, expectSucceeded, loadOne, referenceTable, rowsOf } from './citus.js';

let h: Harness;
let rows: ReturnType<typeof rowsOf>;

describeCitus('loads into Citus tables', () => {
  beforeAll(async () => {
    h = await createHarness('citus');
    rows = rowsOf(h);
    await expectCitusCluster(h);
  });
  afterAll(async () => h?.close());

  const orders = (from: number, n: number, note = 'x') =>
    'tenant_id,id,amount,note\n' + Array.from({ length: n }, (_, i) => `${(from + i) % 7},${from + i},${(from + i) * 1.5},${note}`).join('\n') + '\n';
  const ORDERS = 'tenant_id int NOT NULL, id int NOT NULL, amount numeric(12,2), note text';

  it('CopyCommand into a distributed table: every row on the shards; a bad value names its line and leaves the table as it was', async () => {
    const t = await distributedTable(h, 'copy', ORDERS, 'tenant_id');
    const spec = h.spec({ source: { prefix: 'copy/' }, sink: { table: t } });
    expectSucceeded(await loadOne(h, spec, 'copy/a.csv', orders(1, 5000)), { rowsCopied: 5000 });
    expect(await rows(`SELECT count(*)::int AS n, sum(id)::int AS ids, count(DISTINCT tenant_id)::int AS tenants FROM S.copy`)).toEqual([{ n: 5000, ids: 12502500, tenants: 7 }]);
    // The rows are in the shards (32 by default), not in the coordinator's empty shell table.
    const [spread] = await rows<{ shards: number }>(`SELECT count(DISTINCT get_shard_id_for_distribution_column('S.copy', tenant_id))::int AS shards FROM S.copy`);
    expect(spread!.shards).toBeGreaterThan(1);
    const bad = orders(10001, 3000).replace(',10700,16050,x', ',10700,12;5,x');
    expect(bad).toContain('12;5');
    const failed = await loadOne(h, spec, 'copy/bad.csv', bad);
    expect(failed).toMatchObject({ status: 'Failed', error: { line: 701, sqlstate: '22P02' } });
    expect(failed.error!.message).toMatch(/copy\/bad\.csv line 701, column amount/);
    expect(await rows(`SELECT count(*)::int AS n FROM S.copy`)).toEqual([{ n: 5000 }]);
  });

  it('BulkInsert into a distributed table', async () => {
    const t = await distributedTable(h, 'bulk', ORDERS, 'tenant_id');
    const spec = h.spec({ source: { prefix: 'bulk/' }, sink: { table: t, writeMethod: 'BulkInsert', writeBatchSize: 700 } });
    expectSucceeded(await loadOne(h, spec, 'bulk/a.csv', orders(1, 3000)), { rowsCopied: 3000 });
    expect(await rows(`SELECT count(*)::int AS n, sum(amount)::numeric AS total FROM S.bulk`)).toEqual([{ n: 3000, total: '6752250.00' }]);
  });

  it('Upsert on a primary key containing the distribution column: the last value wins, within a blob and across two blobs', async () => {
    const t = await distributedTable(h, 'ups', `${ORDERS}, PRIMARY KEY (tenant_id, id)`, 'tenant_id');
    const spec = h.spec({ source: { prefix: 'ups/' }, sink: { table: t, writeMethod: 'Upsert' } });
    expectSucceeded(await loadOne(h, spec, 'ups/1.csv', orders(1, 1000, 'first') + '3,3,0,repeat\n'), { rowsRead: 1001 });
    expectSucceeded(await loadOne(h, spec, 'ups/2.csv', orders(501, 1000, 'second')), { rowsRead: 1000 });
    expect(await rows(`SELECT note, count(*)::int AS n FROM S.ups GROUP BY note ORDER BY note`)).toEqual([
      { note: 'first', n: 499 },
      { note: 'repeat', n: 1 },
      { note: 'second', n: 1000 },
    ]);
    expect(await rows(`SELECT amount FROM S.ups WHERE id = 3`)).toEqual([{ amount: '0.00' }]);
  });

  it('Upsert keys without the distribution column: refused before the blob is read, by validate and by the load', async () => {
    const t = await distributedTable(h, 'nodist', `${ORDERS}, PRIMARY KEY (tenant_id, id)`, 'tenant_id');
    await rows(`INSERT INTO S.nodist VALUES (1, 1, 1, 'kept')`);
    const spec = h.spec({ source: { prefix: 'nodist/' }, sink: { table: t, writeMethod: 'Upsert', upsertSettings: { keys: ['id'] } } });
    const result = await loadOne(h, spec, 'nodist/a.csv', orders(1, 100));
    expect(result).toMatchObject({ status: 'Failed', dataRead: 0 });
    expect(result.error!.message).toContain(`must include its distribution column "tenant_id"; add "tenant_id" to sink.upsertSettings.keys`);
    expect(await rows(`SELECT note FROM S.nodist`)).toEqual([{ note: 'kept' }]);
    expect(await validatePipeline(spec, h.env)).toEqual([expect.stringMatching(/^sink\.upsertSettings\.keys: .*distribution column "tenant_id"/)]);
    // A mapping that feeds nothing into the distribution column: every row would fail.
    const unmapped = h.spec({ source: { prefix: 'nodist/' }, sink: { table: t }, mapping: [{ source: 'id', sink: 'id' }, { source: 'note', sink: 'note' }] });
    expect(await validatePipeline(unmapped, h.env)).toEqual([
      expect.stringMatching(/^mapping \(checked against nodist\/a\.csv\): the distribution column "tenant_id" has no default and nothing maps to it/),
    ]);
  });

  it('Upsert without a unique index on the keys (the MERGE path on plain PostgreSQL) into a distributed table: last wins, racing loads leave one row per key', async () => {
    const t = await distributedTable(h, 'nokey', ORDERS, 'tenant_id');
    await rows(`INSERT INTO S.nokey VALUES (1, 1, 0, 'seed')`);
    const spec = h.spec({ source: { prefix: 'nokey/' }, sink: { table: t, writeMethod: 'Upsert', upsertSettings: { keys: ['tenant_id', 'id'] } } });
    const [a, b] = await Promise.all([loadOne(h, spec, 'nokey/a.csv', orders(1, 2000, 'a')), loadOne(h, spec, 'nokey/b.csv', orders(1, 2000, 'b'))]);
    expectSucceeded(a);
    expectSucceeded(b);
    expect(await rows(`SELECT count(*)::int AS n, count(DISTINCT (tenant_id, id))::int AS keys, count(DISTINCT note)::int AS notes FROM S.nokey`)).toEqual([
      { n: 2000, keys: 2000, notes: 1 },
    ]);
    expectSucceeded(await loadOne(h, spec, 'nokey/c.csv', 'tenant_id,id,amount,note\n1,1,5,c1\n1,1,6,c2\n2,9999,7,new\n'), { rowsRead: 3, rowsCopied: 2 });
    expect(await rows(`SELECT id, amount, note FROM S.nokey WHERE note LIKE 'c%' OR note = 'new' ORDER BY id`)).toEqual([
      { id: 1, amount: '6.00', note: 'c2' },
      { id: 9999, amount: '7.00', note: 'new' },
    ]);
  });

  it('a reference table: CopyCommand, Upsert on its primary key, Upsert on keys without an index', async () => {
    const t = await referenceTable(h, 'ref', 'code text PRIMARY KEY, label text');
    const copy = h.spec({ source: { prefix: 'ref/' }, sink: { table: t } });
    expectSucceeded(await loadOne(h, copy, 'ref/a.csv', 'code,label\nEU,Europe\nUS,States\n'), { rowsCopied: 2 });
    const upsert = h.spec({ source: { prefix: 'ref/' }, sink: { table: t, writeMethod: 'Upsert' } });
    expectSucceeded(await loadOne(h, upsert, 'ref/b.csv', 'code,label\nUS,United States\nJP,Japan\n'), { rowsCopied: 2 });
    expect(await rows(`SELECT code, label FROM S.ref ORDER BY code`)).toEqual([
      { code: 'EU', label: 'Europe' },
      { code: 'JP', label: 'Japan' },
      { code: 'US', label: 'United States' },
    ]);
    const t2 = await referenceTable(h, 'ref_nokey', 'code text, label text');
    const merge = h.spec({ source: { prefix: 'refnk/' }, sink: { table: t2, writeMethod: 'Upsert', upsertSettings: { keys: ['code'] } } });
    expectSucceeded(await loadOne(h, merge, 'refnk/a.csv', 'code,label\nEU,Europe\nUS,States\n'));
    expectSucceeded(await loadOne(h, merge, 'refnk/b.csv', 'code,label\nUS,United States\n'));
    expect(await rows(`SELECT code, label FROM S.ref_nokey ORDER BY code`)).toEqual([
      { code: 'EU', label: 'Europe' },
      { code: 'US', label: 'United States' },
    ]);
  });

  it('skip mode: a NULL distribution column and a bad value are skipped with their lines; the other rows load', async () => {
    const t = await distributedTable(h, 'skip', 'tenant_id int, id int, amount numeric(12,2)', 'tenant_id');
    const logContainer = uniqueName('citus-log-');
    const spec = h.spec({
      name: 'citusskip',
      source: { prefix: 'skip/' },
      sink: { table: t },
      faultTolerance: { skipIncompatibleRows: true, logContainer },
    });
    const csv = 'tenant_id,id,amount\n1,1,1.5\n,2,2.5\n3,3,x\n4,4,4.5\n';
    expectSucceeded(await loadOne(h, spec, 'skip/a.csv', csv, 'skiprun'), { rowsRead: 4, rowsCopied: 2, rowsSkipped: 2 });
    expect(await rows(`SELECT tenant_id, id FROM S.skip ORDER BY id`)).toEqual([
      { tenant_id: 1, id: 1 },
      { tenant_id: 4, id: 4 },
    ]);
    const log = BlobServiceClient.fromConnectionString(h.env.SOURCE_STORAGE).getContainerClient(logContainer);
    const text = (await log.getBlobClient('citusskip/skiprun/skip/a.csv.csv').downloadToBuffer()).toString('utf8');
    expect(text.split('\n').slice(0, 3)).toEqual([
      'line,column,value,reason',
      '3,tenant_id,,NULL in distribution column tenant_id',
      expect.stringMatching(/^4,amount,x,/),
    ]);
    await log.delete();
  });

  it('without skip mode a NULL distribution column fails the blob naming its line; the table is unchanged', async () => {
    const t = await distributedTable(h, 'nulldist', 'tenant_id int, id int', 'tenant_id');
    for (const writeMethod of ['CopyCommand', 'BulkInsert'] as const) {
      const spec = h.spec({ source: { prefix: 'nulldist/' }, sink: { table: t, writeMethod } });
      const result = await loadOne(h, spec, `nulldist/${writeMethod}.csv`, 'tenant_id,id\n1,1\n,2\n');
      expect(result, writeMethod).toMatchObject({ status: 'Failed', error: { line: 3 } });
    }
    expect(await rows(`SELECT count(*)::int AS n FROM S.nulldist`)).toEqual([{ n: 0 }]);
  });

  it('the seed scenario: a pre-copy script and a post-copy CALL of a stored procedure, in the load transaction', async () => {
    const staging = await distributedTable(h, 'stage_orders', 'customer_id int NOT NULL, amount numeric(12,2)', 'customer_id');
    await distributedTable(h, 'order_summary', 'customer_id int PRIMARY KEY, total numeric(14,2) NOT NULL, loads int NOT NULL', 'customer_id');
    await h.query(`CREATE PROCEDURE "${h.schema}".refresh_summary() LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM "${h.schema}".stage_orders WHERE amount < 0) THEN RAISE EXCEPTION 'negative amount in staging'; END IF;
        INSERT INTO "${h.schema}".order_summary AS s (customer_id, total, loads)
        SELECT customer_id, sum(amount), 1 FROM "${h.schema}".stage_orders GROUP BY customer_id
        ON CONFLICT (customer_id) DO UPDATE SET total = s.total + EXCLUDED.total, loads = s.loads + 1;
      END $$`);
    const spec = h.spec({
      source: { prefix: 'seed/' },
      sink: { table: staging, preCopyScript: `DELETE FROM "${h.schema}".stage_orders`, postCopyScript: `CALL "${h.schema}".refresh_summary()` },
    });
    expectSucceeded(await loadOne(h, spec, 'seed/1.csv', 'customer_id,amount\n1,10\n2,20\n1,5\n'), { rowsCopied: 3 });
    expectSucceeded(await loadOne(h, spec, 'seed/2.csv', 'customer_id,amount\n1,1\n3,30\n'), { rowsCopied: 2 });
    const summary = `SELECT customer_id, total, loads FROM S.order_summary ORDER BY customer_id`;
    const expected = [
      { customer_id: 1, total: '16.00', loads: 2 },
      { customer_id: 2, total: '20.00', loads: 1 },
      { customer_id: 3, total: '30.00', loads: 1 },
    ];
    expect(await rows(summary)).toEqual(expected);
    // The procedure fails: the pre-copy DELETE, the COPY, the summary and the ledger row all roll back.
    const failed = await loadOne(h, spec, 'seed/3.csv', 'customer_id,amount\n1,-1\n');
    expect(failed).toMatchObject({ status: 'Failed' });
    expect(failed.error!.message).toMatch(/negative amount in staging/);
    expect(await rows(summary)).toEqual(expected);
    expect(await rows(`SELECT customer_id, amount FROM S.stage_orders ORDER BY customer_id`)).toEqual([
      { customer_id: 1, amount: '1.00' },
      { customer_id: 3, amount: '30.00' },
    ]);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE blob_url LIKE '%/seed/%'`)).toEqual([{ n: 2 }]);
  });

  it('two runs of one pipeline at once (groups of small blobs included): each blob loads once', async () => {
    const t = await distributedTable(h, 'race', ORDERS, 'tenant_id');
    for (let i = 0; i < 40; i++) await h.upload(`race/${String(i).padStart(2, '0')}.csv`, orders(i * 100, 100));
    const spec = h.spec({ source: { prefix: 'race/' }, sink: { table: t }, maxParallelCopies: 2 });
    const [a, b] = await Promise.all([runPipeline(spec, { env: h.env }), runPipeline(spec, { env: h.env })]);
    expect(a.filesFailed + b.filesFailed).toBe(0);
    expect(a.filesRead + b.filesRead).toBe(40);
    expect(a.filesSkipped + b.filesSkipped).toBe(40);
    expect(a.rowsCopied + b.rowsCopied).toBe(4000);
    expect(await rows(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM S.race`)).toEqual([{ n: 4000, ids: 4000 }]);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE blob_url LIKE '%/race/%'`)).toEqual([{ n: 40 }]);
  });
});
