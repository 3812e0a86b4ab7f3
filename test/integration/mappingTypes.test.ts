import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePipeline } from '../../src/load/validate.js';
import { createHarness, type Harness } from '../support/harness.js';
import { loadOne, rowsIn } from '../support/tables.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('map');
});
afterAll(async () => h?.close());

async function load(tableName: string, blob: string, body: string, sink: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return loadOne(h, blob, body, { sink: { table: tableName, ...sink }, ...extra }, { runId: 'run-42', lastModified: '2026-03-04T05:06:07.000Z' });
}

const rows = (sql: string) => rowsIn(h, sql);

describe.each(['CopyCommand', 'BulkInsert', 'Upsert'] as const)('mapping and types with %s', (writeMethod) => {
  it('additional columns: $$FILEPATH, $$FILENAME, $$ETAG, $$LASTMODIFIED, $$RUNID and a literal', async () => {
    const name = `extra_${writeMethod.toLowerCase()}`;
    const t = await h.table(name, 'id int PRIMARY KEY, loaded_from text, file text, etag text, modified timestamptz, run text, tag text');
    const mapping = [
      { source: 'id', sink: 'id' },
      { sink: 'loaded_from', value: '$$FILEPATH' },
      { sink: 'file', value: '$$FILENAME' },
      { sink: 'etag', value: '$$ETAG' },
      { sink: 'modified', value: '$$LASTMODIFIED' },
      { sink: 'run', value: '$$RUNID' },
      { sink: 'tag', value: 'batch-7' },
    ];
    const { ref, result } = await load(t, `dir/${name}.csv`, 'id\n1\n2\n', { writeMethod }, { mapping });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await rows(`SELECT id, loaded_from, file, etag, modified = '2026-03-04T05:06:07Z' AS m, run, tag FROM S.${name} ORDER BY id`)).toEqual(
      [1, 2].map((id) => ({ id, loaded_from: `dir/${name}.csv`, file: `${name}.csv`, etag: ref.etag, m: true, run: 'run-42', tag: 'batch-7' })),
    );
  });

  it('every text-input type: jsonb, arrays, wide numeric, uuid, timestamptz offsets, interval, bytea, booleans', async () => {
    const name = `types_${writeMethod.toLowerCase()}`;
    const t = await h.table(name, 'id int PRIMARY KEY, j jsonb, a int[], n numeric, u uuid, ts timestamptz, iv interval, b bytea, f bool');
    const csv = [
      'id,j,a,n,u,ts,iv,b,f',
      `1,"{""k"": [1, 2]}","{1,2}",1234567890123456789012345678901234.5678,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,2026-01-02 03:04:05+05:30,1 day 02:00,\\x0102ff,true`,
      ...['false', 't', 'F', '1', '0', 'YES', 'no', 'Y', 'n'].map((f, i) => `${i + 2},null,{},0,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,2026-01-02T00:00:00Z,P1D,\\x,${f}`),
    ].join('\n');
    const { result } = await load(t, `${name}.csv`, csv + '\n', { writeMethod });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 10 });
    const [first] = await rows(`SELECT j->'k'->>1 AS j, a[2] AS a, n::text AS n, u::text AS u, ts = '2026-01-01 21:34:05Z' AS ts, iv = '26 hours' AS iv, encode(b, 'hex') AS b FROM S.${name} WHERE id = 1`);
    expect(first).toEqual({ j: '2', a: 2, n: '1234567890123456789012345678901234.5678', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ts: true, iv: true, b: '0102ff' });
    expect((await rows(`SELECT f FROM S.${name} ORDER BY id`)).map((r) => r.f)).toEqual([true, false, true, false, true, false, true, false, true, false]);
  });

  it('typeConversion: dateFormat, timestampFormat, extra boolean spellings', async () => {
    const name = `conv_${writeMethod.toLowerCase()}`;
    const t = await h.table(name, 'id int PRIMARY KEY, d date, ts timestamp, ok boolean');
    const csv = 'id,d,ts,ok\n1,31/12/2025,31/12/2025 23:59:58,Oui\n2,01/02/2026,01/02/2026 00:00:01,non\n3,,,yes\n';
    const { result } = await load(t, `${name}.csv`, csv, { writeMethod }, {
      typeConversion: { dateFormat: 'DD/MM/YYYY', timestampFormat: 'DD/MM/YYYY HH24:MI:SS', booleanTrue: ['oui'], booleanFalse: ['Non'] },
    });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 3 });
    expect(await rows(`SELECT id, d::text AS d, ts::text AS ts, ok FROM S.${name} ORDER BY id`)).toEqual([
      { id: 1, d: '2025-12-31', ts: '2025-12-31 23:59:58', ok: true },
      { id: 2, d: '2026-02-01', ts: '2026-02-01 00:00:01', ok: false },
      { id: 3, d: null, ts: null, ok: true },
    ]);
  });

  it('a value that does not convert under typeConversion names its line and column', async () => {
    const name = `convbad_${writeMethod.toLowerCase()}`;
    const t = await h.table(name, 'id int PRIMARY KEY, d date');
    const { result } = await load(t, `${name}.csv`, 'id,d\n1,31/12/2025\n2,31/02/2025\n', { writeMethod }, { typeConversion: { dateFormat: 'DD/MM/YYYY' } });
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 3, column: 'd' });
    expect(await rows(`SELECT count(*)::int AS n FROM S.${name}`)).toEqual([{ n: 0 }]);
  });
});

describe('blob2pg validate: mapping against the live table', () => {
  it('reports an unknown column, an unmapped NOT NULL column without default, and an unmapped key column', async () => {
    const t = await h.table('val', 'id int, code text NOT NULL, v text, UNIQUE (id, v)');
    await h.upload('val/a.csv', 'id,other\n1,x\n');
    const spec = h.spec({
      source: { prefix: 'val/' },
      sink: { table: t, writeMethod: 'Upsert', upsertSettings: { keys: ['id', 'v'] } },
      mapping: [
        { source: 'id', sink: 'id' },
        { source: 'other', sink: 'nope' },
      ],
    });
    const problems = await validatePipeline(spec, h.env);
    expect(problems.join('\n')).toMatch(/the table has no column "nope"/);
    expect(problems.join('\n')).toMatch(/NOT NULL column "code" has no default/);
    expect(problems.join('\n')).toMatch(/key column "v" is not mapped/);
  });

  it('reports an Upsert into a table with no primary key and no keys', async () => {
    const t = await h.table('val2', 'id int');
    await h.upload('val2/a.csv', 'id\n1\n');
    const spec = h.spec({ source: { prefix: 'val2/' }, sink: { table: t, writeMethod: 'Upsert' } });
    expect((await validatePipeline(spec, h.env)).join('\n')).toMatch(/no primary key/);
  });
});
