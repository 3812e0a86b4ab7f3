import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlob } from '../../src/load/index.js';
import { runPipeline } from '../../src/local/run.js';
import { createHarness, type Harness } from '../support/harness.js';
import { loadOne } from '../support/tables.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('csv');
});
afterAll(async () => h?.close());

async function load(tableName: string, blob: string, body: string | Buffer, source: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return (await loadOne(h, blob, body, { source, sink: { table: tableName }, ...extra })).result;
}

describe('CSV with CopyCommand', () => {
  it('loads RFC 4180 edge cases: quoted delimiters, quoted newlines, doubled quotes, empty vs NULL, non-ASCII', async () => {
    const t = await h.table('edge', 'id int, name text, note text');
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
    const t = await h.table('crlf', 'a int, b text, c date');
    const csv = '\uFEFFc,a,b\r\n2026-01-02,1,x\r\n2026-01-03,2,y\r\n';
    expect(await load(t, 'crlf.csv', csv)).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    const rows = await h.query(`SELECT a, b, c::text FROM "${h.schema}".crlf ORDER BY a`);
    expect(rows).toEqual([
      { a: 1, b: 'x', c: '2026-01-02' },
      { a: 2, b: 'y', c: '2026-01-03' },
    ]);
  });

  it('maps by position without a header, after skipLineCount lines', async () => {
    const t = await h.table('nohead', 'a int, b text');
    const csv = 'exported by tool X\nsecond junk line\n1,one\n2,two\n';
    const result = await load(t, 'nohead.csv', csv, { format: { type: 'DelimitedText', firstRowAsHeader: false, skipLineCount: 2 } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await h.query(`SELECT a, b FROM "${h.schema}".nohead ORDER BY a`)).toEqual([
      { a: 1, b: 'one' },
      { a: 2, b: 'two' },
    ]);
  });

  it('decompresses gzip chosen from the .gz name', async () => {
    const t = await h.table('gz', 'n int');
    const csv = 'n\n' + Array.from({ length: 1000 }, (_, i) => i).join('\n') + '\n';
    const result = await load(t, 'gz.csv.gz', gzipSync(csv));
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 1000 });
    expect(result.dataRead).toBe(gzipSync(csv).length);
    expect(await h.query(`SELECT sum(n)::int AS s FROM "${h.schema}".gz`)).toEqual([{ s: 499500 }]);
  });

  it('fails a blob with a bad value in the middle: table unchanged, error names blob, line, column, SQLSTATE', async () => {
    const t = await h.table('bad', 'id int, amount numeric');
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
    const t = await h.table('rerun', 'id int');
    await h.upload('rerun/a.csv', 'id\n1\n2\n');
    await h.upload('rerun/b.csv', 'id\n3\n');
    const spec = h.spec({ source: { prefix: 'rerun/' }, sink: { table: t } });
    const first = await runPipeline(spec, { env: h.env });
    expect(first).toMatchObject({ status: 'Succeeded', filesRead: 2, filesSkipped: 0, rowsCopied: 3 });
    const second = await runPipeline(spec, { env: h.env });
    expect(second).toMatchObject({ status: 'Succeeded', filesRead: 0, filesSkipped: 2, rowsCopied: 0 });
    // The listing found both versions in the ledger: nothing was scheduled, so no file lists them.
    expect(second.files).toEqual([]);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".rerun`)).toEqual([{ n: 3 }]);
    const ledger = await h.query(`SELECT rows_copied::int, etag FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE target_table = $1 ORDER BY blob_url`, [`${h.schema}.rerun`]);
    expect(ledger.map((r) => r.rows_copied)).toEqual([2, 1]);
  });

  it('goes through a staging table when the file has columns the table does not take, still naming the bad line', async () => {
    const t = await h.table('staged', 'id int, amount numeric(8,2)');
    const ok = await load(t, 'staged/ok.csv', 'id,ignored,amount\n1,zzz,1.50\n2,yyy,2.25\n');
    expect(ok).toMatchObject({ status: 'Succeeded', rowsRead: 2, rowsCopied: 2 });
    expect(await h.query(`SELECT id, amount::text FROM "${h.schema}".staged ORDER BY id`)).toEqual([
      { id: 1, amount: '1.50' },
      { id: 2, amount: '2.25' },
    ]);
    const bad = await load(t, 'staged/bad.csv', 'id,ignored,amount\n3,a,1\n4,b,x\n');
    expect(bad.status).toBe('Failed');
    expect(bad.error).toMatchObject({ line: 3, column: 'amount', sqlstate: '22P02' });
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".staged`)).toEqual([{ n: 2 }]);
  });

  it('runs pre- and post-copy scripts in the blob transaction: a failing post script loads nothing', async () => {
    const t = await h.table('scripted', 'id int');
    await h.query(`CREATE TABLE "${h.schema}".audit (note text); INSERT INTO "${h.schema}".scripted VALUES (99)`);
    const scripts = {
      preCopyScript: `DELETE FROM "${h.schema}".scripted`,
      postCopyScript: `INSERT INTO "${h.schema}".audit SELECT 'loaded ' || count(*) FROM "${h.schema}".scripted`,
    };
    const okSpec = h.spec({ source: { prefix: 'scripted/ok' }, sink: { table: t, ...scripts } });
    const ref = await h.upload('scripted/ok.csv', 'id\n1\n2\n');
    const ok = await copyBlob(okSpec, { ...ref, size: 0, lastModified: '' }, { runId: 'r', env: h.env });
    expect(ok.status).toBe('Succeeded');
    expect(await h.query(`SELECT id FROM "${h.schema}".scripted ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await h.query(`SELECT note FROM "${h.schema}".audit`)).toEqual([{ note: 'loaded 2' }]);

    const badSpec = h.spec({ source: { prefix: 'scripted/bad' }, sink: { table: t, preCopyScript: scripts.preCopyScript, postCopyScript: 'SELECT 1/0' } });
    const badRef = await h.upload('scripted/bad.csv', 'id\n7\n');
    const bad = await copyBlob(badSpec, { ...badRef, size: 0, lastModified: '' }, { runId: 'r', env: h.env });
    expect(bad).toMatchObject({ status: 'Failed', error: { sqlstate: '22012' } });
    expect(await h.query(`SELECT id FROM "${h.schema}".scripted ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('loads a blob version once when two loads race: one Succeeded, one Skipped', async () => {
    const t = await h.table('race', 'id int');
    const ref = await h.upload('race/a.csv', 'id\n' + Array.from({ length: 20000 }, (_, i) => i).join('\n') + '\n');
    const spec = h.spec({ source: { prefix: 'race/' }, sink: { table: t } });
    const blob = { ...ref, size: 0, lastModified: '' };
    const results = await Promise.all([copyBlob(spec, blob, { runId: 'a', env: h.env }), copyBlob(spec, blob, { runId: 'b', env: h.env })]);
    expect(results.map((r) => r.status).sort()).toEqual(['Skipped', 'Succeeded']);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".race`)).toEqual([{ n: 20000 }]);
  });

  it('loads an overwritten blob as a new version, and refuses to load a version that is gone', async () => {
    const t = await h.table('versions', 'id int');
    const spec = h.spec({ source: { prefix: 'versions/' }, sink: { table: t } });
    const v1 = await h.upload('versions/a.csv', 'id\n1\n');
    expect((await copyBlob(spec, { ...v1, size: 0, lastModified: '' }, { runId: 'r', env: h.env })).status).toBe('Succeeded');
    const v2 = await h.upload('versions/a.csv', 'id\n2\n');
    expect((await copyBlob(spec, { ...v2, size: 0, lastModified: '' }, { runId: 'r', env: h.env })).status).toBe('Succeeded');
    // v1 again (e.g. a late, duplicate event's run): already loaded.
    expect((await copyBlob(spec, { ...v1, size: 0, lastModified: '' }, { runId: 'r2', env: h.env })).status).toBe('Skipped');
    const gone = await copyBlob(spec, { ...v1, etag: '0x8DEADBEEF', size: 0, lastModified: '' }, { runId: 'r', env: h.env });
    expect(gone.status).toBe('Failed');
    expect(gone.error?.message).toContain('overwritten after it was listed');
    expect(await h.query(`SELECT id FROM "${h.schema}".versions ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
  });
});
