/**
 * End to end: `blob2pg import-adf` on the fixture Git folder, then `blob2pg run` of the
 * imported LoadOrders pipeline against the test Azurite and PostgreSQL, next to a
 * hand-written spec of the same ADF copy. Both must load the same rows.
 * The fixture names its own container (adf-incoming) and schema (adf_sales): they are
 * created here, in this run's own Azurite and PostgreSQL, and dropped at the end.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let incoming: ContainerClient;
let dir: string;

beforeAll(async () => {
  h = await createHarness('adfimport');
  dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-import-adf-'));
  incoming = BlobServiceClient.fromConnectionString(h.env.SOURCE_STORAGE).getContainerClient('adf-incoming');
  await incoming.deleteIfExists();
  await incoming.create();
  await h.query('DROP SCHEMA IF EXISTS adf_sales CASCADE');
  await h.query('CREATE SCHEMA adf_sales');
  for (const table of ['orders', 'orders_by_hand']) {
    await h.query(`CREATE TABLE adf_sales.${table} (id int PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), order_date date, source_file text)`);
  }
  await h.query('CREATE TABLE adf_sales.load_audit (loaded_at timestamptz NOT NULL)');
});

afterAll(async () => {
  await h?.query('DROP SCHEMA IF EXISTS adf_sales CASCADE');
  await incoming?.deleteIfExists();
  await h?.close();
});

async function cli(args: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  return { code, stdout, stderr };
}

const upload = (name: string, body: string) => incoming.getBlockBlobClient(name).uploadData(Buffer.from(body));

describe('import-adf end to end', () => {
  it('the imported pipeline loads the same rows as a hand-written spec of the same ADF copy', async () => {
    // ADF DelimitedText: escape character "\" (ADF's default, written out by the importer), dates as dd/MM/yyyy.
    await upload('orders/2024/01/day1.csv', 'OrderId,Customer,Amount,OrderDate\n1,"Smith \\"Jr\\"",10.50,28/11/2024\n2,Jones,n/a,29/11/2024\n3,"Lee, Ann",7,30/11/2024\n');
    await upload('orders/2024/02/day2.csv', 'OrderId,Customer,Amount,OrderDate\n4,Kim,1.25,01/12/2024\n5,Ng,2,02/12/2024\n');
    await upload('orders/readme.txt', 'not a csv\n'); // wildcardFileName *.csv
    await upload('other/6.csv', 'OrderId,Customer,Amount,OrderDate\n6,Out,1,01/01/2024\n'); // wildcardFolderPath orders

    const out = path.join(dir, 'pipelines');
    const imported = await cli(['import-adf', path.resolve('test/fixtures/adf/factory'), '--out', out], {});
    expect(imported.code).toBe(0);
    const importedFile = path.join(out, 'LoadOrders.json');
    expect(JSON.parse(await readFile(importedFile, 'utf8'))).toMatchObject({ source: { connection: 'BLOB_STORE' }, sink: { connection: 'SALES_DB' } });

    // What a person would write from the ADF copy, without the importer.
    const byHand = path.join(dir, 'orders-by-hand.json');
    await writeFile(
      byHand,
      JSON.stringify({
        name: 'orders-by-hand',
        source: { container: 'adf-incoming', prefix: 'orders/', wildcard: '*.csv', format: { type: 'DelimitedText', escapeChar: '\\' } },
        sink: { table: 'adf_sales.orders_by_hand', postCopyScript: 'INSERT INTO adf_sales.load_audit (loaded_at) VALUES (now())' },
        mapping: [
          { source: 'OrderId', sink: 'id' },
          { source: 'Customer', sink: 'customer' },
          { source: 'Amount', sink: 'amount' },
          { source: 'OrderDate', sink: 'order_date' },
          { sink: 'source_file', value: '$$FILEPATH' },
        ],
        typeConversion: { dateFormat: 'DD/MM/YYYY' },
        faultTolerance: { skipIncompatibleRows: true, logContainer: 'adf-copy-logs' },
      }),
    );

    // The connection names come from the ADF linked services (BlobStore, SalesDb).
    const env = { BLOB_STORE: h.env.SOURCE_STORAGE, SALES_DB: h.env.TARGET_POSTGRES, BLOB2PG_LEDGER_SCHEMA: h.env.BLOB2PG_LEDGER_SCHEMA };
    const run = await cli(['run', importedFile, '--json'], env);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ pipeline: 'LoadOrders', status: 'Succeeded', filesRead: 2, filesFailed: 0, rowsCopied: 4, rowsSkipped: 1 });
    const hand = await cli(['run', byHand, '--json'], { ...h.env });
    expect(JSON.parse(hand.stdout)).toMatchObject({ status: 'Succeeded', filesRead: 2, rowsCopied: 4, rowsSkipped: 1 });

    const rows = (table: string) => h.query(`SELECT id, customer, amount::text, order_date::text, source_file FROM adf_sales.${table} ORDER BY id`);
    const loaded = await rows('orders');
    expect(loaded).toEqual(await rows('orders_by_hand'));
    expect(loaded.map((r) => [r.id, r.customer, r.amount, r.order_date])).toEqual([
      [1, 'Smith "Jr"', '10.50', '2024-11-28'],
      [3, 'Lee, Ann', '7.00', '2024-11-30'],
      [4, 'Kim', '1.25', '2024-12-01'],
      [5, 'Ng', '2.00', '2024-12-02'],
    ]);
    expect(loaded[0]!.source_file).toContain('orders/2024/01/day1.csv');
    // The Script activity after the copy became postCopyScript: once per blob, for each pipeline.
    expect(await h.query('SELECT count(*)::int AS n FROM adf_sales.load_audit')).toEqual([{ n: 4 }]);

    // Exactly once: a second run of the imported pipeline loads nothing new.
    const again = await cli(['run', importedFile, '--json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ filesRead: 0, filesSkipped: 2, rowsCopied: 0 });
  });
});
