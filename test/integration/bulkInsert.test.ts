import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlob } from '../../src/copyBlob.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('bulk');
});
afterAll(async () => h?.close());

async function load(tableName: string, blob: string, body: string, sink: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const ref = await h.upload(blob, body);
  const spec = h.spec({ source: { prefix: blob }, sink: { table: tableName, writeMethod: 'BulkInsert', ...sink }, ...extra });
  return copyBlob(spec, { ...ref, size: 0, lastModified: new Date().toISOString() }, { runId: 'r1', env: h.env });
}

const rows = (sql: string) => h.query(sql.replaceAll('S.', `"${h.schema}".`));

describe('BulkInsert', () => {
  it('fires a row-level trigger once per row, in batches of writeBatchSize statements', async () => {
    const t = await h.table('trig', 'id int, v text');
    await rows(`CREATE TABLE S.audit (id int, stmt bigint)`);
    // statement_timestamp() is per statement; txid per transaction: count statements via a statement-level trigger too.
    await rows(`CREATE TABLE S.stmts (n int)`);
    await rows(`CREATE FUNCTION S.audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO "${h.schema}".audit VALUES (NEW.id, 0); RETURN NEW; END $$`);
    await rows(`CREATE FUNCTION S.audit_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO "${h.schema}".stmts VALUES (1); RETURN NULL; END $$`);
    await rows(`CREATE TRIGGER r AFTER INSERT ON S.trig FOR EACH ROW EXECUTE FUNCTION S.audit_row()`);
    await rows(`CREATE TRIGGER s AFTER INSERT ON S.trig FOR EACH STATEMENT EXECUTE FUNCTION S.audit_stmt()`);
    const csv = 'id,v\n' + Array.from({ length: 2500 }, (_, i) => `${i + 1},v${i}`).join('\n') + '\n';
    const result = await load(t, 'trig.csv', csv, { writeBatchSize: 1000 });
    expect(result).toMatchObject({ status: 'Succeeded', rowsRead: 2500, rowsCopied: 2500 });
    expect(await rows(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM S.audit`)).toEqual([{ n: 2500, ids: 2500 }]);
    expect(await rows(`SELECT count(*)::int AS n FROM S.stmts`)).toEqual([{ n: 3 }]);
    expect(await rows(`SELECT min(id)::int AS lo, max(id)::int AS hi, count(*)::int AS n FROM S.trig`)).toEqual([{ lo: 1, hi: 2500, n: 2500 }]);
  });

  it('a wide table (300 columns × 300 rows, 90,000 values) loads: no parameter ceiling', async () => {
    const cols = Array.from({ length: 300 }, (_, i) => `c${i}`);
    const t = await h.table('wide', cols.map((c) => `${c} int`).join(', '));
    const csv = cols.join(',') + '\n' + Array.from({ length: 300 }, (_, r) => cols.map((_, c) => r * 1000 + c).join(',')).join('\n') + '\n';
    const result = await load(t, 'wide.csv', csv);
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 300 });
    expect(await rows(`SELECT sum(c299)::int AS s FROM S.wide`)).toEqual([{ s: 300 * 299 + 1000 * ((299 * 300) / 2) }]);
  });

  it('a bad value in a later batch fails the blob: table unchanged, error names line and column', async () => {
    const t = await h.table('bad', 'id int, amount numeric');
    await rows(`INSERT INTO S.bad VALUES (0, 0)`);
    const lines = ['id,amount'];
    for (let i = 1; i <= 50; i++) lines.push(i === 37 ? `${i},oops` : `${i},${i}`);
    const result = await load(t, 'bad.csv', lines.join('\n') + '\n', { writeBatchSize: 10 });
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 38, column: 'amount', sqlstate: '22P02' });
    expect(await rows(`SELECT count(*)::int AS n FROM S.bad`)).toEqual([{ n: 1 }]);
  });

  it('a record with the wrong number of fields fails the blob naming its line', async () => {
    const t = await h.table('short', 'a int, b int');
    const result = await load(t, 'short.csv', 'a,b\n1,2\n3\n');
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 3, sqlstate: '22P04' });
    expect(await rows(`SELECT count(*)::int AS n FROM S.short`)).toEqual([{ n: 0 }]);
  });

  it('a NOT NULL violation names the line and column', async () => {
    const t = await h.table('nn', 'a int NOT NULL DEFAULT 0, b int');
    const result = await load(t, 'nn.csv', 'a,b\n1,2\n,3\n');
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 3, column: 'a', sqlstate: '23502' });
  });
});
