import { describe, expect, it } from 'vitest';
import { csvColumnSplitter, csvColumnsSupported } from '../../src/format/csv/columns.js';
import { ArrayLiteralBuilder } from '../../src/sink/arrayParams.js';

const literals = (n: number) => Array.from({ length: n }, () => new ArrayLiteralBuilder());

function split(text: string, records: number, fieldCount: number, options: Partial<{ delimiter: string; quote: string; escape: string; null: string }> = {}) {
  return csvColumnSplitter({ delimiter: ',', quote: '"', escape: '"', null: '', fieldCount, ...options })(Buffer.from(text), records, literals(fieldCount));
}
const malformed = { malformed: true };

describe('CSV column splitter (array literals for BulkInsert)', () => {
  it('one quoted, escaped array literal per column; unquoted NULL string is NULL, quoted is not', () => {
    expect(split('1,a\n2,\n3,""\n', 3, 2)).toEqual(['{"1","2","3"}', '{"a",NULL,""}']);
  });

  it('quoted fields keep delimiters, newlines and doubled quotes; " and \\ are escaped for array_in', () => {
    expect(split('"x,y","l1\nl2"\n"say ""hi""",back\\slash\n', 2, 2)).toEqual(['{"x,y","say \\"hi\\""}', '{"l1\nl2","back\\\\slash"}']);
  });

  it('keeps whitespace, braces and the word NULL as data, and multi-byte UTF-8 intact', () => {
    expect(split(' a ,{b},NULL,é€😀\n', 1, 4)).toEqual(['{" a "}', '{"{b}"}', '{"NULL"}', '{"é€😀"}']);
  });

  it('follows PostgreSQL: quotes mid-field, a custom escape, a custom NULL string, CRLF line ends', () => {
    expect(split('ab"c,d"e,\\N\r\n"q\\"x\\\\",""\r\n', 2, 2, { escape: '\\', null: '\\N' })).toEqual(['{"abc,de","q\\"x\\\\"}', '{NULL,""}']);
    expect(split('a;b\nc;d', 2, 2, { delimiter: ';' })).toEqual(['{"a","c"}', '{"b","d"}']);
  });

  it('refuses as malformed (the batch goes through COPY) for what only COPY should judge', () => {
    expect(split('1,2\n3\n', 2, 2)).toEqual(malformed); // missing data
    expect(split('1,2,3\n', 1, 2)).toEqual(malformed); // extra data
    expect(split('1,"open\n', 1, 2)).toEqual(malformed); // unterminated quote
    expect(split('1,a\rb\n', 1, 2)).toEqual(malformed); // bare CR
    expect(split('1,2\r\n3,4\n', 2, 2)).toEqual(malformed); // line-ending style changes
  });

  it('reuses its buffers across batches and grows them for long values', () => {
    const splitter = csvColumnSplitter({ delimiter: ',', quote: '"', escape: '"', null: '', fieldCount: 2 });
    const builders = literals(2);
    expect(splitter(Buffer.from('1,a\n'), 1, builders)).toEqual(['{"1"}', '{"a"}']);
    const long = 'x'.repeat(100_000);
    expect(splitter(Buffer.from(`2,${long}\n3,"${long}"""\n`), 2, builders)).toEqual(['{"2","3"}', `{"${long}","${long}\\""}`]);
  });

  it('supports single ASCII delimiter, quote and escape only', () => {
    expect(csvColumnsSupported({ delimiter: ',', quote: '"', escape: '\\', null: '' })).toBe(true);
    expect(csvColumnsSupported({ delimiter: '§', quote: '"', escape: '"', null: '' })).toBe(false);
  });
});
