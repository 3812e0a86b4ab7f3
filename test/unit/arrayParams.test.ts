import { describe, expect, it } from 'vitest';
import { csvColumnSplitter } from '../../src/format/csv/columns.js';
import { ArrayLiteralBuilder, columnParam } from '../../src/sink/arrayParams.js';

/** Reads PostgreSQL's one-dimensional binary array format back: [element OID, values as Buffers or null]. */
function readBinaryArray(b: Buffer): [number, Array<Buffer | null>] {
  expect(b.readInt32BE(0)).toBe(1); // ndim
  const hasNulls = b.readInt32BE(4);
  const oid = b.readInt32BE(8);
  const length = b.readInt32BE(12);
  expect(b.readInt32BE(16)).toBe(1); // lower bound
  const values: Array<Buffer | null> = [];
  let o = 20;
  for (let i = 0; i < length; i++) {
    const n = b.readInt32BE(o);
    o += 4;
    if (n < 0) values.push(null);
    else {
      values.push(b.subarray(o, o + n));
      o += n;
    }
  }
  expect(o).toBe(b.length);
  expect(hasNulls).toBe(values.includes(null) ? 1 : 0);
  return [oid, values];
}

/** Splits one CSV column (one value per line) with the binary builder of `baseType`. */
function column(baseType: string, csv: string) {
  const param = columnParam(baseType);
  const builder = param.binary();
  expect(builder).toBeDefined();
  const records = csv.split('\n').length - (csv.endsWith('\n') ? 1 : 0);
  return csvColumnSplitter({ delimiter: ',', quote: '"', escape: '"', null: '', fieldCount: 1 })(Buffer.from(csv), records, [builder!]);
}

function values(baseType: string, csv: string) {
  const out = column(baseType, csv);
  expect(Array.isArray(out)).toBe(true);
  return readBinaryArray((out as Buffer[])[0]!);
}

describe('BulkInsert array parameters', () => {
  it('bigint, integer, smallint: exact two\'s complement values, BigInt past 2^53, NULLs', () => {
    const [oid, v] = values('bigint', '0\n-1\n9007199254740993\n-9223372036854775808\n\n"42"\n');
    expect(oid).toBe(20);
    expect(v.map((b) => (b === null ? null : b.readBigInt64BE(0)))).toEqual([0n, -1n, 9007199254740993n, -9223372036854775808n, null, 42n]);
    const [oid4, v4] = values('integer', '2147483647\n-2147483648\n');
    expect(oid4).toBe(23);
    expect(v4.map((b) => b!.readInt32BE(0))).toEqual([2147483647, -2147483648]);
    const [oid2, v2] = values('smallint', '-32768\n7\n');
    expect(oid2).toBe(21);
    expect(v2.map((b) => b!.readInt16BE(0))).toEqual([-32768, 7]);
  });

  it('double precision: the same double as strtod, including -0 and subnormals', () => {
    const [oid, v] = values('double precision', '1.5\n-0\n.5\n5.\n1e-5\n-2.5E+3\n4.9e-324\n0.1\n');
    expect(oid).toBe(701);
    const read = v.map((b) => b!.readDoubleBE(0));
    expect(read).toEqual([1.5, -0, 0.5, 5, 1e-5, -2500, 5e-324, 0.1]);
    expect(Object.is(read[1], -0)).toBe(true);
  });

  it('boolean: whole spellings in any case', () => {
    const [oid, v] = values('boolean', 'TRUE\nf\nYes\noff\n1\nn\nOn\n0\n');
    expect(oid).toBe(16);
    expect(v.map((b) => b![0])).toEqual([1, 0, 1, 0, 1, 0, 1, 0]);
  });

  it('text and varchar: the field\'s bytes, quotes removed; varchar is sent as text so the column checks its length', () => {
    const [oid, v] = values('text', '"a,""b"""\n""\n\né😀\n');
    expect(oid).toBe(25);
    expect(v.map((b) => (b === null ? null : b.toString('utf8')))).toEqual(['a,"b"', '', null, 'é😀']);
    expect(columnParam('character varying').sqlType).toBe('text');
    expect(columnParam('bpchar')).toMatchObject({ sqlType: 'bpchar' });
    expect(columnParam('numeric').binary()).toBeUndefined();
  });

  it('declines what only the input function should judge, naming the column', () => {
    for (const [type, value] of [
      ['bigint', ' 1'], ['bigint', '1.0'], ['bigint', '+1'], ['bigint', '1_000'], ['bigint', '0x1F'], ['bigint', '9223372036854775808'], ['bigint', '""'],
      ['integer', '2147483648'], ['smallint', '32768'],
      ['double precision', 'NaN'], ['double precision', 'Infinity'], ['double precision', '1e400'], ['double precision', '1e-400'], ['double precision', ' 1'], ['double precision', '1e'], ['double precision', '.'],
      ['boolean', 'tr'], ['boolean', ' t'], ['boolean', 'truee'],
    ] as const) {
      expect(column(type, `${value}\n`), `${type} ${value}`).toEqual({ declined: 0 });
    }
  });

  it('array literals quote every element and escape " and \\', () => {
    const out = csvColumnSplitter({ delimiter: ',', quote: '"', escape: '"', null: '', fieldCount: 1 })(Buffer.from('"say ""hi"""\nback\\slash\n\n'), 3, [new ArrayLiteralBuilder()]);
    expect(out).toEqual(['{"say \\"hi\\"","back\\\\slash",NULL}']);
  });
});
