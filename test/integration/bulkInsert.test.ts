import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlob } from '../../src/load/index.js';
import { createHarness, type Harness } from '../support/harness.js';
import { loadOne, rowsIn } from '../support/tables.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('bulk');
});
afterAll(async () => h?.close());

async function load(tableName: string, blob: string, body: string, sink: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return (await loadOne(h, blob, body, { sink: { table: tableName, writeMethod: 'BulkInsert', ...sink }, ...extra })).result;
}

const rows = (sql: string) => rowsIn(h, sql);

/** Loads `csv` with BulkInsert into `<name>_bulk` and with CopyCommand into `<name>_copy`; asserts both tables hold the same rows. */
async function expectLoadsLikeCopy(name: string, ddl: string, csv: string, records: number): Promise<void> {
  const bulk = await h.table(`${name}_bulk`, ddl);
  const copy = await h.table(`${name}_copy`, ddl);
  expect(await load(bulk, `${name}1.csv`, csv, { writeBatchSize: 3 })).toMatchObject({ status: 'Succeeded', rowsCopied: records });
  expect(await load(copy, `${name}2.csv`, csv, { writeMethod: 'CopyCommand' })).toMatchObject({ status: 'Succeeded', rowsCopied: records });
  const diff = await rows(`(SELECT * FROM S.${name}_bulk EXCEPT ALL SELECT * FROM S.${name}_copy) UNION ALL (SELECT * FROM S.${name}_copy EXCEPT ALL SELECT * FROM S.${name}_bulk)`);
  expect(diff).toEqual([]);
}

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
  it('array path: a bad value in a later batch, after a quoted multi-line record, names its record line and column', async () => {
    const t = await h.table('badts', 'id int, note text, ts timestamp');
    await rows(`INSERT INTO S.badts VALUES (0, 'kept', now())`);
    const csv = 'id,note,ts\n1,plain,2026-01-01 00:00:00\n2,"two\nlines, ""quoted""",2026-01-02 00:00:00\n3,x,2026-01-03 00:00:00\n4,y,2026-01-04 00:00:00\n5,z,2026-13-45 99:00:00\n6,w,2026-01-06 00:00:00\n';
    const result = await load(t, 'badts.csv', csv, { writeBatchSize: 2 });
    expect(result.status).toBe('Failed');
    // One record = one line, as COPY counts: header = line 1, record 5 = line 6.
    expect(result.error).toMatchObject({ line: 6, column: 'ts', sqlstate: '22008' });
    expect(await rows(`SELECT count(*)::int AS n FROM S.badts`)).toEqual([{ n: 1 }]);
  });

  it('array path: a NOT NULL violation in a later batch names its line and column', async () => {
    const t = await h.table('nn2', 'a int, b text NOT NULL');
    const result = await load(t, 'nn2.csv', 'a,b\n1,x\n2,y\n3,z\n4,\n5,v\n', { writeBatchSize: 2 });
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 5, column: 'b', sqlstate: '23502' });
    expect(await rows(`SELECT count(*)::int AS n FROM S.nn2`)).toEqual([{ n: 0 }]);
  });

  it('quoted fields (delimiters, newlines, doubled quotes), backslashes, braces, NULL vs "" and UTF-8 load exactly as COPY loads them', async () => {
    const ddl = 'id int, t text, n numeric, j jsonb, d date';
    const csv =
      'id,t,n,j,d\n' +
      '1,"a,b",1.5,"{""k"": ""v,w""}",2026-01-01\n' +
      '2,"line1\nline2\r\nline3",,"[1, ""\\\\""]",\n' +
      '3,"",-0,null,2026-02-28\n' +
      '4,NULL,  7 ,"{}", 2026-03-01\n' +
      '5,back\\slash {brace} "mid" quote,1e3,"""s""",2026-03-02\n' +
      '6,"é€😀 ""q"" \\\\",2,"[]",2026-03-03\n' +
      '7, spaced ,3,1,2026-03-04\n';
    await expectLoadsLikeCopy('q', ddl, csv, 7);
    expect(await rows(`SELECT t FROM S.q_bulk WHERE id IN (2, 3, 4, 6, 7) ORDER BY id`)).toEqual([
      { t: 'line1\nline2\r\nline3' },
      { t: '' },
      { t: 'NULL' },
      { t: 'é€😀 "q" \\\\' },
      { t: ' spaced ' },
    ]);
  });

  it('binary-sent columns (bigint, integer, smallint, float8, boolean, varchar) load exactly as COPY loads them, odd spellings included', async () => {
    const ddl = 'id bigint, i integer, s smallint, x float8, b boolean, v varchar(5), t text';
    // `1_000` and `0x1F` are integer input syntax from PostgreSQL 16 on; older servers get other odd spellings.
    const version = Number((await rows(`SELECT current_setting('server_version_num') AS v`))[0]!.v);
    const odd = version >= 160000 ? '1_000,0x1F' : '01000,+031';
    const csv =
      'id,i,s,x,b,v,t\n' +
      '1,2147483647,-32768,1.5,TRUE,abc,"q""x"\n' +
      '9007199254740993,-1,0,-0,f,"a,b",\n' +
      '-9223372036854775808,,7,4.9e-324,Yes,,""\n' +
      // Spellings the binary builders leave to the input functions: the column switches to text.
      '4, 12 ,+5,NaN, on ,"ab  ",é😀\n' +
      `5,${odd},Infinity,tr,"  ",x\n` +
      '6,7,8,1e-320,n,abcde,y\n';
    await expectLoadsLikeCopy('bin', ddl, csv, 6);
    expect(await rows(`SELECT id::text, i, s, x::text, b, v FROM S.bin_bulk ORDER BY bin_bulk.id`)).toEqual([
      { id: '-9223372036854775808', i: null, s: 7, x: '5e-324', b: true, v: null },
      { id: '1', i: 2147483647, s: -32768, x: '1.5', b: true, v: 'abc' },
      { id: '4', i: 12, s: 5, x: 'NaN', b: true, v: 'ab  ' },
      { id: '5', i: 1000, s: 31, x: 'Infinity', b: true, v: '  ' },
      { id: '6', i: 7, s: 8, x: '1e-320', b: false, v: 'abcde' },
      { id: '9007199254740993', i: -1, s: 0, x: '-0', b: false, v: 'a,b' },
    ]);
  });

  it('a value too long for varchar(n), char(n) or bit(n) fails naming line and column, as COPY does (never truncated)', async () => {
    for (const [name, type, value] of [
      ['len_v', 'varchar(3)', 'abcd'],
      ['len_c', 'char(2)', 'abc'],
      ['len_b', 'bit(3)', '1011'],
    ] as const) {
      const t = await h.table(name, `id int, v ${type}`);
      for (const writeMethod of ['BulkInsert', 'Upsert', 'CopyCommand']) {
        const sink = writeMethod === 'Upsert' ? { writeMethod, upsertSettings: { keys: ['id'] } } : { writeMethod };
        const result = await load(t, `${name}-${writeMethod}.csv`, `id,v\n1,${value.slice(0, -1)}\n2,${value}\n`, sink);
        expect(result.status, `${type} ${writeMethod}`).toBe('Failed');
        expect(result.error, `${type} ${writeMethod}`).toMatchObject({ line: 3, column: 'v', sqlstate: name === 'len_b' ? '22026' : '22001' });
        expect(await rows(`SELECT count(*)::int AS n FROM S.${name}`)).toEqual([{ n: 0 }]);
      }
    }
  });

  it('a row-level BEFORE trigger sees each row, in file order, and its changes are kept', async () => {
    const t = await h.table('trig2', 'id int, v text');
    await rows(`CREATE TABLE S.seen (n serial, id int, v text)`);
    await rows(`CREATE FUNCTION S.seen_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO "${h.schema}".seen (id, v) VALUES (NEW.id, NEW.v); NEW.v := upper(NEW.v); RETURN NEW; END $$`);
    await rows(`CREATE TRIGGER r BEFORE INSERT ON S.trig2 FOR EACH ROW EXECUTE FUNCTION S.seen_row()`);
    const csv = 'id,v\n' + Array.from({ length: 25 }, (_, i) => `${i + 1},${i % 5 === 0 ? `"v,${i}"` : `v${i}`}`).join('\n') + '\n';
    expect(await load(t, 'trig2.csv', csv, { writeBatchSize: 10 })).toMatchObject({ status: 'Succeeded', rowsCopied: 25 });
    const seen = await rows(`SELECT id, v FROM S.seen ORDER BY n`);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => ({ id: i + 1, v: i % 5 === 0 ? `v,${i}` : `v${i}` })));
    expect(await rows(`SELECT v FROM S.trig2 WHERE id = 6`)).toEqual([{ v: 'V,5' }]);
  });

  it('an array-typed column and a domain column load (array columns through the typed stage)', async () => {
    await rows(`CREATE DOMAIN S.posint AS int CHECK (VALUE > 0)`);
    const t = await h.table('arr', `id "${h.schema}".posint, tags int[]`);
    expect(await load(t, 'arr.csv', 'id,tags\n1,"{1,2}"\n2,{}\n3,\n')).toMatchObject({ status: 'Succeeded', rowsCopied: 3 });
    expect(await rows(`SELECT id::int, tags FROM S.arr ORDER BY id`)).toEqual([{ id: 1, tags: [1, 2] }, { id: 2, tags: [] }, { id: 3, tags: null }]);
    const d = await h.table('dom', `id "${h.schema}".posint, v text`);
    const result = await load(d, 'dom.csv', 'id,v\n1,a\n2,b\n-3,c\n', { writeBatchSize: 2 });
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 4, column: 'id', sqlstate: '23514' });
  });

  it('invalid UTF-8 fails the blob naming its line', async () => {
    const t = await h.table('enc', 'id int, v text');
    const ref = await h.upload('enc.csv', Buffer.concat([Buffer.from('id,v\n1,a\n2,b'), Buffer.from([0xff, 0xfe]), Buffer.from('\n3,c\n')]));
    const spec = h.spec({ source: { prefix: 'enc.csv' }, sink: { table: t, writeMethod: 'BulkInsert' } });
    const result = await copyBlob(spec, { ...ref, size: 0, lastModified: new Date().toISOString() }, { runId: 'r1', env: h.env });
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 3, sqlstate: '22021' });
  });
});
