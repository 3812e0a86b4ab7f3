import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/format/byteReader.js';
import { parseRecord, readDelimitedPrologue } from '../../src/format/csv/header.js';
import { parsePipelineSpec, type DelimitedTextFormat } from '../../src/pipeline/spec.js';

const rfc = { delimiter: 0x2c, quote: 0x22, escape: 0x22 };

function format(overrides: Record<string, unknown> = {}): DelimitedTextFormat {
  const parsed = parsePipelineSpec({ name: 'p', source: { container: 'abc', format: { type: 'DelimitedText', ...overrides } }, sink: { table: 't' } }).source.format;
  if (parsed.type !== 'DelimitedText') throw new Error('expected DelimitedText');
  return parsed;
}

/** Splits `text` into 1-byte chunks: the prologue must not depend on chunk boundaries. */
function dribble(text: string): ByteReader {
  const bytes = Buffer.from(text);
  return new ByteReader(Readable.from(Array.from(bytes, (b) => Buffer.from([b]))));
}

async function restText(reader: ByteReader): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of reader.rest()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('CSV record parser', () => {
  it('reads quoted delimiters, doubled quotes and quoted newlines', () => {
    const record = parseRecord(Buffer.from('"a,b","say ""hi""","x\ny"\nnext'), 0, rfc, false);
    expect(record).toEqual({ fields: ['a,b', 'say "hi"', 'x\ny'], end: 25, lines: 2 });
  });

  it('asks for more bytes when the record is cut', () => {
    expect(parseRecord(Buffer.from('"a,b'), 0, rfc, false)).toBeUndefined();
    expect(parseRecord(Buffer.from('a,b'), 0, rfc, false)).toBeUndefined();
    expect(parseRecord(Buffer.from('a,b'), 0, rfc, true)?.fields).toEqual(['a', 'b']);
  });

  it('supports an escape character different from the quote', () => {
    const record = parseRecord(Buffer.from('"a\\"b",c\r\n'), 0, { ...rfc, escape: 0x5c }, false);
    expect(record?.fields).toEqual(['a"b', 'c']);
  });
});

describe('delimited prologue', () => {
  it('strips the BOM, skipped lines and the header; counts the lines before the body', async () => {
    const reader = dribble('\uFEFFjunk 1\njunk 2\nid,"Name, full"\r\n1,Ann\r\n');
    const prologue = await readDelimitedPrologue(reader, format({ skipLineCount: 2 }));
    expect(prologue).toMatchObject({ header: ['id', 'Name, full'], fieldCount: 2, lineOffset: 3 });
    expect(await restText(reader)).toBe('1,Ann\r\n');
  });

  it('without a header, peeks at the first record and leaves it in the body', async () => {
    const reader = dribble('1,a,b\n2,c,d\n');
    const prologue = await readDelimitedPrologue(reader, format({ firstRowAsHeader: false }));
    expect(prologue).toMatchObject({ header: null, fieldCount: 3, lineOffset: 0 });
    expect(await restText(reader)).toBe('1,a,b\n2,c,d\n');
  });

  it('translates the spec into COPY options', async () => {
    const prologue = await readDelimitedPrologue(dribble('a|b\n'), format({ columnDelimiter: '|', nullValue: 'NULL' }));
    expect(prologue.copyOptions).toEqual({ delimiter: '|', quote: '"', escape: '"', null: 'NULL', encoding: 'UTF8' });
  });

  it('treats an empty blob as zero fields', async () => {
    expect(await readDelimitedPrologue(dribble(''), format())).toMatchObject({ header: [], fieldCount: 0 });
  });

  it('rebuilds the body in chunks of at least 64 KB', async () => {
    const line = 'x'.repeat(99) + '\n';
    const reader = new ByteReader(Readable.from(Array.from({ length: 2000 }, () => Buffer.from(line))));
    await readDelimitedPrologue(reader, format({ firstRowAsHeader: false }));
    const sizes: number[] = [];
    for await (const chunk of reader.rest()) sizes.push((chunk as Buffer).length);
    expect(sizes.slice(0, -1).every((n) => n >= 64 * 1024)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(200_000);
  });
});
