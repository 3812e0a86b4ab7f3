import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { type Codec, int96, patchFlba12ToInt96, writeParquet } from '../support/parquetFixtures.js';
import { tables } from '../support/tables.js';

let h: Harness;
let t: ReturnType<typeof tables>;
beforeAll(async () => {
  h = await createHarness('parquet');
  t = tables(h);
});
afterAll(async () => h?.close());

const PARQUET = { format: { type: 'Parquet' } };

describe('Parquet source', () => {
  it.each<Codec>(['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'BROTLI', 'ZSTD', 'LZ4', 'LZ4_RAW'])('reads %s column chunks across row groups', async (codec) => {
    const name = `codec_${codec.toLowerCase()}`;
    const tab = await t.table(name, 'id int, label text');
    const n = 2500;
    const file = writeParquet({
      columnData: [
        { name: 'id', data: Int32Array.from({ length: n }, (_, i) => i), type: 'INT32' },
        { name: 'label', data: Array.from({ length: n }, (_, i) => `row ${i}`), type: 'STRING' },
      ],
      codec,
      rowGroupSize: 1000,
    });
    const result = await t.load(tab, `${name}.parquet`, file, PARQUET);
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: n });
    expect(await t.rows(`SELECT count(*)::int AS n, sum(id)::int AS s, max(label) AS m FROM T.${name}`)).toEqual([{ n, s: (n * (n - 1)) / 2, m: 'row 999' }]);
  });

  it('converts every scalar type without loss', async () => {
    const tab = await t.table(
      'types',
      `i32 int, i64 bigint, f real, d double precision, b boolean, s text, bin bytea, dec numeric(38,9), dec_small numeric(9,2),
       dt date, tm time, ts_ms timestamp, ts_us timestamptz, ts_ns timestamptz, u uuid`,
    );
    const bigDecimal = 123456789012345678901234567890123456789n; // 39 digits → needs FLBA(17)
    const file = writeParquet({
      columnData: [
        { name: 'i32', data: [-2147483648, 2147483647, null] },
        { name: 'i64', data: [9007199254740993n, -9223372036854775808n, null] },
        { name: 'f', data: [1.5, -0.25, null] },
        { name: 'd', data: [Math.PI, 1e300, null] },
        { name: 'b', data: [true, false, null] },
        { name: 's', data: ['héllo, "world"\n', '', null] },
        { name: 'bin', data: [new Uint8Array([0, 1, 0xfe, 0xff]), new Uint8Array([]), null] },
        { name: 'dec', data: [bigDecimal % 10n ** 38n, -1n, null] },
        { name: 'dec_small', data: [12345n, -5n, null] },
        { name: 'dt', data: [new Date('2026-11-20T00:00:00Z'), new Date('1969-12-31T00:00:00Z'), null] },
        { name: 'tm', data: [45296789012n, 0n, null] },
        { name: 'ts_ms', data: [new Date('2026-01-02T03:04:05.678Z'), new Date('1900-01-01T00:00:00Z'), null] },
        { name: 'ts_us', data: [1767323045678901n, -1n, null] },
        { name: 'ts_ns', data: [1767323045678901234n, 0n, null] },
        { name: 'u', data: ['0f8fad5b-d9cb-469f-a165-70867728950e', '00000000-0000-0000-0000-000000000000', null] },
      ],
      schema: [
        { name: 'root', num_children: 15 },
        { name: 'i32', type: 'INT32', repetition_type: 'OPTIONAL' },
        { name: 'i64', type: 'INT64', repetition_type: 'OPTIONAL' },
        { name: 'f', type: 'FLOAT', repetition_type: 'OPTIONAL' },
        { name: 'd', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
        { name: 'b', type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
        { name: 's', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'bin', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
        { name: 'dec', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, converted_type: 'DECIMAL', precision: 38, scale: 9, repetition_type: 'OPTIONAL' },
        { name: 'dec_small', type: 'INT32', converted_type: 'DECIMAL', precision: 9, scale: 2, repetition_type: 'OPTIONAL' },
        { name: 'dt', type: 'INT32', converted_type: 'DATE', repetition_type: 'OPTIONAL' },
        { name: 'tm', type: 'INT64', logical_type: { type: 'TIME', isAdjustedToUTC: false, unit: 'MICROS' }, repetition_type: 'OPTIONAL' },
        { name: 'ts_ms', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'OPTIONAL' },
        { name: 'ts_us', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' }, repetition_type: 'OPTIONAL' },
        { name: 'ts_ns', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' }, repetition_type: 'OPTIONAL' },
        { name: 'u', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, logical_type: { type: 'UUID' }, repetition_type: 'OPTIONAL' },
      ],
    });
    const result = await t.load(tab, 'types.parquet', file, PARQUET);
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 3 });
    const rows = await t.rows(
      `SELECT i32, i64::text, f, d, b, s, encode(bin, 'hex') AS bin, dec::text, dec_small::text, dt::text, tm::text,
              ts_ms::text, to_char(ts_us AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts_us, to_char(ts_ns AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts_ns, u::text
         FROM T.types ORDER BY i32 NULLS LAST`,
    );
    expect(rows[0]).toEqual({
      i32: -2147483648, i64: '9007199254740993', f: 1.5, d: Math.PI, b: true, s: 'héllo, "world"\n', bin: '0001feff',
      dec: '23456789012345678901234567890.123456789', dec_small: '123.45', dt: '2026-11-20', tm: '12:34:56.789012',
      ts_ms: '2026-01-02 03:04:05.678', ts_us: '2026-01-02 03:04:05.678901', ts_ns: '2026-01-02 03:04:05.678901',
      u: '0f8fad5b-d9cb-469f-a165-70867728950e',
    });
    expect(rows[1]).toEqual({
      i32: 2147483647, i64: '-9223372036854775808', f: -0.25, d: 1e300, b: false, s: '', bin: '', dec: '-0.000000001', dec_small: '-0.05',
      dt: '1969-12-31', tm: '00:00:00', ts_ms: '1900-01-01 00:00:00', ts_us: '1969-12-31 23:59:59.999999', ts_ns: '1970-01-01 00:00:00.000000',
      u: '00000000-0000-0000-0000-000000000000',
    });
    expect(Object.values(rows[2]!).every((v) => v === null)).toBe(true);
  });

  it('reads legacy INT96 timestamps', async () => {
    const tab = await t.table('int96', 'id int, ts timestamp');
    const file = patchFlba12ToInt96(
      writeParquet({
        columnData: [
          { name: 'id', data: [1, 2] },
          { name: 'ts', data: [int96(new Date('2026-03-04T05:06:07.123Z'), 456000), int96(new Date('1999-12-31T23:59:59Z'))] },
        ],
        schema: [
          { name: 'root', num_children: 2 },
          { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
          { name: 'ts', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 12, repetition_type: 'OPTIONAL' },
        ],
        codec: 'UNCOMPRESSED',
        statistics: false,
      }),
    );
    expect(await t.load(tab, 'int96.parquet', file, PARQUET)).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await t.rows(`SELECT id, ts::text FROM T.int96 ORDER BY id`)).toEqual([
      { id: 1, ts: '2026-03-04 05:06:07.123456' },
      { id: 2, ts: '1999-12-31 23:59:59' },
    ]);
  });

  it('maps LIST to a Postgres array or jsonb, MAP and STRUCT to jsonb, nested fields by path', async () => {
    const tab = await t.table('nested', 'id int, tags text[], tags_json jsonb, attrs jsonb, address jsonb, city text, scores int[]');
    const file = writeParquet({
      columnData: [
        { name: 'id', data: [1, 2] },
        { name: 'tags', data: [['a', 'b,c', null], []] },
        { name: 'attrs', data: [{ k1: 1, k2: 2 }, null] },
        { name: 'address', data: [{ city: 'Oslo', zip: 150 }, { city: null, zip: 9 }] },
        { name: 'scores', data: [[1, 2], null] },
      ],
      schema: [
        { name: 'root', num_children: 5 },
        { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
        { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'attrs', repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
        { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
        { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
        { name: 'value', type: 'INT32', repetition_type: 'OPTIONAL' },
        { name: 'address', repetition_type: 'OPTIONAL', num_children: 2 },
        { name: 'city', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'zip', type: 'INT32', repetition_type: 'OPTIONAL' },
        { name: 'scores', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'INT32', repetition_type: 'OPTIONAL' },
      ],
    });
    const mapping = [
      { source: 'id', sink: 'id' },
      { source: 'tags', sink: 'tags' },
      { source: 'tags', sink: 'tags_json' },
      { source: 'attrs', sink: 'attrs' },
      { source: 'address', sink: 'address' },
      { source: '$.address.city', sink: 'city' },
      { source: 'scores', sink: 'scores' },
    ];
    const result = await t.load(tab, 'nested.parquet', file, PARQUET, { mapping });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await t.rows(`SELECT * FROM T.nested ORDER BY id`)).toEqual([
      { id: 1, tags: ['a', 'b,c', null], tags_json: ['a', 'b,c', null], attrs: { k1: 1, k2: 2 }, address: { city: 'Oslo', zip: 150 }, city: 'Oslo', scores: [1, 2] },
      { id: 2, tags: [], tags_json: [], attrs: null, address: { city: null, zip: 9 }, city: null, scores: null },
    ]);
  });

  it('timestamps keep full precision whether the file is flat (numbers formatted per block) or has a struct (text from the parsers)', async () => {
    const tab = await t.table('stamps', 'id int, ts timestamp, ms timestamptz, event jsonb');
    const us = [1767323045678901n, 1767323045000000n, -1n, null];
    const columns = [
      { name: 'id', data: [1, 2, 3, 4] },
      { name: 'ts', data: us },
      { name: 'ms', data: [1767323045678n, 1767323045000n, -1n, null] },
    ];
    const schema = [
      { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
      { name: 'ts', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' }, repetition_type: 'OPTIONAL' },
      { name: 'ms', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'OPTIONAL' },
    ] as const;
    const flat = writeParquet({ columnData: columns, schema: [{ name: 'root', num_children: 3 }, ...schema] });
    const nested = writeParquet({
      columnData: [...columns, { name: 'event', data: us.map((at) => ({ at })) }],
      schema: [
        { name: 'root', num_children: 4 },
        ...schema,
        { name: 'event', repetition_type: 'OPTIONAL', num_children: 1 },
        { name: 'at', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' }, repetition_type: 'OPTIONAL' },
      ],
    });
    expect(await t.load(tab, 'flat.parquet', flat, PARQUET, { mapping: [{ source: 'id', sink: 'id' }, { source: 'ts', sink: 'ts' }, { source: 'ms', sink: 'ms' }] })).toMatchObject({ status: 'Succeeded', rowsCopied: 4 });
    expect(await t.load(tab, 'nested.parquet', nested, PARQUET)).toMatchObject({ status: 'Succeeded', rowsCopied: 4 });
    const expected = [
      { ts: '2026-01-02 03:04:05.678901', ms: '2026-01-02 03:04:05.678', at: '2026-01-02T03:04:05.678901Z' },
      { ts: '2026-01-02 03:04:05', ms: '2026-01-02 03:04:05', at: '2026-01-02T03:04:05.000000Z' },
      { ts: '1969-12-31 23:59:59.999999', ms: '1969-12-31 23:59:59.999', at: '1969-12-31T23:59:59.999999Z' },
      { ts: null, ms: null, at: null },
    ];
    const rows = await t.rows(`SELECT id, ts::text, to_char(ms AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS ms, event->>'at' AS at FROM T.stamps ORDER BY id, event IS NULL DESC`);
    const trimMs = (ms: string | null) => ms?.replace(/\.000$/, '') ?? null;
    expect(rows.map((r) => ({ id: r.id, ts: r.ts, ms: trimMs(r.ms as string | null), at: r.at }))).toEqual([
      ...expected.flatMap((e, i) => [
        { id: i + 1, ...e, at: null },
        { id: i + 1, ...e },
      ]),
    ]);
  });

  it('maps columns by name case-insensitively and fails a corrupt file clearly', async () => {
    const tab = await t.table('byname', 'id int, "Name" text');
    const file = writeParquet({ columnData: [{ name: 'NAME', data: ['x'] }, { name: 'ID', data: [7] }, { name: 'unused', data: [1.5] }] });
    expect(await t.load(tab, 'byname.parquet', file, PARQUET)).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(await t.rows(`SELECT id, "Name" FROM T.byname`)).toEqual([{ id: 7, Name: 'x' }]);
    const broken = await t.load(tab, 'broken.parquet', file.subarray(0, file.length - 20), { format: { type: 'auto' } });
    expect(broken.status).toBe('Failed');
    expect(broken.error!.message).toMatch(/broken\.parquet: not a readable Parquet file/);
  });
});
