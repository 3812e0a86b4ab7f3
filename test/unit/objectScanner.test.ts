import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { ByteReader } from '../../src/format/byteReader.js';
import { decodeJson, ObjectScanner } from '../../src/format/json.js';
import type { TableColumn } from '../../src/pipeline/table.js';

/** Runs `text` through an ObjectScanner in chunks of `size` bytes; the records and their lines. */
function scan(text: string | Buffer, size: number, array: boolean): Array<[unknown, number]> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const out: Array<[unknown, number]> = [];
  const scanner = new ObjectScanner(array, (value, line) => out.push([value, line]));
  for (let at = 0; at < bytes.length; at += size) scanner.push(bytes.subarray(at, at + size));
  scanner.end();
  return out;
}

/** Every chunk size from 1 byte to the whole text: each must give the same records. */
function everySplit(text: string, array: boolean): Array<[unknown, number]> {
  const whole = scan(text, text.length + 1, array);
  for (let size = 1; size <= Buffer.byteLength(text); size++) expect(scan(text, size, array), `chunk size ${size}`).toEqual(whole);
  return whole;
}

const tricky = { s: '}{ ][ "quoted" \\ back\\"slash', nested: { a: [1, { b: '[' }], c: { d: '}' } }, u: 'Zoë 東京 🚀' };

describe('ObjectScanner (JSON array / concatenated objects)', () => {
  it('finds each object of a top-level array, whatever the chunk edges, strings with braces, brackets and escaped quotes included', () => {
    const text = `[\n  ${JSON.stringify(tricky)},\n  {"id": 2, "x": "\\\\"}\n  ,{"id":3}\n]\n`;
    expect(everySplit(text, true)).toEqual([
      [tricky, 2],
      [{ id: 2, x: '\\' }, 3],
      [{ id: 3 }, 4],
    ]);
  });

  it('reads objects one after another (pretty-printed, on one line, separated by any whitespace)', () => {
    const text = `{\n  "id": 1,\n  "nested": {"a": {"b": {"c": [[], {}]}}}\n}\n{"id":2}  {"id":3}\t\r\n\n{"id": 4, "s": "line\\nbreak {"}`;
    expect(everySplit(text, false)).toEqual([
      [{ id: 1, nested: { a: { b: { c: [[], {}] } } } }, 1],
      [{ id: 2 }, 5],
      [{ id: 3 }, 5],
      [{ id: 4, s: 'line\nbreak {' }, 7],
    ]);
  });

  it('keeps multi-byte UTF-8 split across chunks intact', () => {
    const text = `[{"u":"🚀東京"},{"u":"é"}]`;
    expect(everySplit(text, true).map(([v]) => v)).toEqual([{ u: '🚀東京' }, { u: 'é' }]);
  });

  it('fails on broken structure with the line', () => {
    expect(() => scan('[{"a":1} {"a":2}]', 4, true)).toThrow(/expected "," or "\]" between elements/);
    expect(() => scan('[{"a":1}]\n{"a":2}', 4, true)).toThrow(/unexpected data after the closing "\]"/);
    expect(() => scan('{"a":"}', 3, false)).toThrow(/the file ends inside an object/);
    expect(() => scan('[{"a":1},', 3, true)).toThrow(/the file ends before the closing "\]"/);
    expect(() => scan('{"a":1}\n\n[1]', 3, false)).toThrow('line 3: invalid JSON at byte offset 9: expected an object, got "["');
    expect(() => scan('[{"a":1}, 2]', 2, true)).toThrow(/expected an object, "," or "\]", got "2"/);
  });

  it('is what decodeJson uses after a UTF-8 BOM and leading whitespace', async () => {
    const column = (name: string): TableColumn => ({ name, type: 'text', baseType: 'text', notNull: false, hasDefault: false, writable: true });
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(` \n\t[ {"ID": "a,\\"b\\"", "other": {"x": "]"}},\n {"id": "c"} ]\n`)]);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    const decoded = await decodeJson(new ByteReader(Readable.from(chunks)), [column('id')], undefined);
    expect(decoded.header).toEqual(['ID']);
    let csv = '';
    for await (const chunk of decoded.body) csv += chunk.toString();
    expect(csv).toBe('"a,""b"""\nc\n');
    expect([decoded.lineOf(1), decoded.lineOf(2)]).toEqual([2, 3]);
  });
});
