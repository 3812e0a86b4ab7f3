import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlob } from '../../src/copyBlob.js';
import { runPipeline } from '../../src/run/localRun.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('csv');
});
afterAll(async () => h?.close());

async function table(name: string, ddl: string): Promise<string> {
  const qualified = `"${h.schema}"."${name}"`;
  await h.query(`CREATE TABLE ${qualified} (${ddl})`);
  return `${h.schema}.${name}`;
}

async function load(tableName: string, blob: string, body: string | Buffer, source: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const ref = await h.upload(blob, body);
  const spec = h.spec({ source: { prefix: blob, ...source }, sink: { table: tableName }, ...extra });
  return copyBlob(spec, { ...ref, size: 0, lastModified: new Date().toISOString() }, { runId: 'r1', env: h.env });
}

describe('CSV with CopyCommand', () => {
  it('loads RFC 4180 edge cases: quoted delimiters, quoted newlines, doubled quotes, empty vs NULL, non-ASCII', async () => {
    const t = await table('edge', 'id int, name text, note text');
    const csv = 'id,name,note\n1,"Smith, John","line one\nline two"\n2,"say ""hi""",\n3,"",Zoë — 東京 🚀\n';
    const result = await load(t, 'edge.csv', csv);
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 3, rowsRead: 3 });
    const rows = await h.query(`SELECT id, name, note FROM "${h.schema}".edge ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, name: 'Smith, John', note: 'line one\nline two' },
      { id: 2, name: 'say "hi"', note: null },
      { id: 3, name: '', note: 'Zoë — 東京 🚀' },
    ]);
  });

  it('handles CRLF, a UTF-8 BOM, and a header in another order than the table', async () => {
    const t = await table('crlf', 'a int, b text, c date');
    const csv = '\uFEFFc,a,b\r\n2026-01-02,1,x\r\n2026-01-03,2,y\r\n';
    expect(await load(t, 'crlf.csv', csv)).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    const rows = await h.query(`SELECT a, b, c::text FROM "${h.schema}".crlf ORDER BY a`);
    expect(rows).toEqual([
      { a: 1, b: 'x', c: '2026-01-02' },
      { a: 2, b: 'y', c: '2026-01-03' },
    ]);
  });

  it('maps by position without a header, after skipLineCount lines', async () => {
    const t = await table('nohead', 'a int, b text');
    const csv = 'exported by tool X\nsecond junk line\n1,one\n2,two\n';
    const result = await load(t, 'nohead.csv', csv, { format: { type: 'DelimitedText', firstRowAsHeader: false, skipLineCount: 2 } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await h.query(`SELECT a, b FROM "${h.schema}".nohead ORDER BY a`)).toEqual([
      { a: 1, b: 'one' },
      { a: 2, b: 'two' },
    ]);
  });

  it('decompresses gzip chosen from the .gz name', async () => {
    const t = await table('gz', 'n int');
    const csv = 'n\n' + Array.from({ length: 1000 }, (_, i) => i).join('\n') + '\n';
    const result = await load(t, 'gz.csv.gz', gzipSync(csv));
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 1000 });
    expect(result.dataRead).toBe(gzipSync(csv).length);
    expect(await h.query(`SELECT sum(n)::int AS s FROM "${h.schema}".gz`)).toEqual([{ s: 499500 }]);
  });

  it('fails a blob with a bad value in the middle: table unchanged, error names blob, line, column, SQLSTATE', async () => {
    const t = await table('bad', 'id int, amount numeric');
    await h.query(`INSERT INTO "${h.schema}".bad VALUES (0, 1)`);
    const lines = ['id,amount'];
    for (let i = 1; i <= 100; i++) lines.push(i === 48 ? `${i},"12,5"` : `${i},${i}.5`);
    const result = await load(t, 'bad/2026-11-20.csv', lines.join('\n') + '\n', {}, { name: 'orders' });
    expect(result.status).toBe('Failed');
    // Header is line 1, so id 48 sits on line 49 of the file.
    expect(result.error).toMatchObject({ line: 49, column: 'amount', sqlstate: '22P02' });
    expect(result.error!.message).toContain('pipeline orders bad/2026-11-20.csv line 49, column amount: invalid input syntax for type numeric: "12,5" (22P02)');
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".bad`)).toEqual([{ n: 1 }]);
  });

  it('quotes table and column names that need it (mixed case, spaces, a double quote)', async () => {
    await h.query(`CREATE TABLE "${h.schema}"."Odd ""Table""" ("Id" int, "first name" text, "say ""x""" text)`);
    const csv = 'Id,first name,"say ""x"""\n1,Ann,hello\n';
    const result = await load(`${h.schema}.Odd "Table"`, 'odd.csv', csv);
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(await h.query(`SELECT * FROM "${h.schema}"."Odd ""Table"""`)).toEqual([{ Id: 1, 'first name': 'Ann', 'say "x"': 'hello' }]);
  });

  it('loads each blob version once: a re-run reports Skipped and adds no rows', async () => {
    const t = await table('rerun', 'id int');
    await h.upload('rerun/a.csv', 'id\n1\n2\n');
    await h.upload('rerun/b.csv', 'id\n3\n');
    const spec = h.spec({ source: { prefix: 'rerun/' }, sink: { table: t } });
    const first = await runPipeline(spec, { env: h.env });
    expect(first).toMatchObject({ status: 'Succeeded', filesRead: 2, filesSkipped: 0, rowsCopied: 3 });
    const second = await runPipeline(spec, { env: h.env });
    expect(second).toMatchObject({ status: 'Succeeded', filesRead: 0, filesSkipped: 2, rowsCopied: 0 });
    expect(second.files.map((f) => f.status)).toEqual(['Skipped', 'Skipped']);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".rerun`)).toEqual([{ n: 3 }]);
    const ledger = await h.query(`SELECT rows_copied::int, etag FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE target_table = $1 ORDER BY blob_url`, [`${h.schema}.rerun`]);
    expect(ledger.map((r) => r.rows_copied)).toEqual([2, 1]);
  });
});
