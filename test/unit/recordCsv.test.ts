/**
 * The record formats' CSV output pieces (src/format/toCsvRows.ts, src/format/parquet.ts):
 * the chunker that gathers lines into COPY-sized buffers, and the Parquet shortcut that
 * skips the quote test for text a formatter made.
 */
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '../../src/format/byteReader.js';
import { formattedCsv } from '../../src/format/parquet.js';
import { CsvChunker, fieldText, numberText } from '../../src/format/toCsvRows.js';

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

describe('numberText', () => {
  it('prints exactly what String() prints, for short decimals, long doubles and the edges', () => {
    const values: number[] = [0, -0, 1, -1, 0.1, 0.2, 0.1 + 0.2, 1e-6, 1.5e-6, 9.99e-7, 1e-7, 123456789012345.6, 1e15 - 0.5, 1e15, 1e21, 1e-300, 5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, NaN, Infinity, -Infinity, 731.731, 0.000123, -42.5, 2 ** 53 + 0.5];
    // Deterministic pseudo-random values: short decimals at every magnitude, and arbitrary doubles.
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 200_000; i++) {
      const k = Math.floor(next() * 16);
      const magnitude = 10 ** (Math.floor(next() * 22) - 7);
      values.push(Math.round(next() * magnitude * 10 ** k) / 10 ** k);
      values.push(-Math.round(next() * 1e6) / 10 ** (i % 12));
      values.push((next() - 0.5) * magnitude);
      values.push(((i + 100_001) * 0.731) % 1000);
    }
    const differ = values.filter((v) => numberText(v) !== String(v));
    expect(differ.map((v) => [v, numberText(v), String(v)])).toEqual([]);
    expect(numberText(731.731)).toBe('731.731');
    expect(numberText(0.000123)).toBe('0.000123');
  });
});
