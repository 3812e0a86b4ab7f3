/**
 * The record formats' CSV output pieces (src/format/toCsvRows.ts, src/format/parquet.ts):
 * the chunker that gathers lines into COPY-sized buffers, and the Parquet shortcut that
 * skips the quote test for text a formatter made.
 */
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '../../src/format/byteReader.js';
import { formattedCsv } from '../../src/format/parquet.js';
import { CsvChunker, fieldText } from '../../src/format/toCsvRows.js';

describe('CsvChunker', () => {
  it('holds lines until MIN_CHUNK_BYTES, then hands them out whole as UTF-8, the rest when forced', () => {
    const out = new CsvChunker();
    const line = 'ä,"b ""c""",€\n';
    let text = '';
    while (text.length + line.length < MIN_CHUNK_BYTES) {
      out.push(line);
      text += line;
    }
    expect(out.take()).toBeUndefined();
    out.pushLines(line + line, 2);
    text += line + line;
    const chunk = out.take()!;
    expect(chunk.toString('utf8')).toBe(text);
    expect(chunk.length).toBe(Buffer.byteLength(text));
    expect(out.records).toBe(text.split('\n').length - 1);
    expect(out.take(true)).toBeUndefined();
    out.push('last\n');
    expect(out.take()).toBeUndefined();
    expect(out.take(true)!.toString()).toBe('last\n');
  });
});

describe('formattedCsv', () => {
  const text = fieldText('scalar');
  it('takes text the formatter made as the field, without quoting it', () => {
    // A formatter's own text goes out unquoted (the real ones make digits, ':', '.', 'Z').
    const csv = formattedCsv((raw) => `made ${String(raw)}`, text);
    expect(csv(7)).toBe('made 7');
  });
  it('quotes what the formatter passes through unchanged, and writes null as the empty field', () => {
    const passThrough = formattedCsv((raw) => raw, text);
    expect(passThrough('a,b')).toBe('"a,b"');
    expect(passThrough('')).toBe('""');
    expect(passThrough(null)).toBe('');
    expect(passThrough(undefined)).toBe('');
    expect(passThrough(12n)).toBe('12');
  });
});
