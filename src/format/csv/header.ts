/**
 * Delimited text (CSV) header reader: only the prologue is parsed in Node — BOM, skipped lines and the
 * header record — because the body goes to PostgreSQL's own CSV parser untouched
 * (DESIGN decision 1: let Postgres parse).
 */
import { Transform } from 'node:stream';
import { ConfigError, DataError } from '../../errors.js';
import type { DelimitedTextFormat } from '../../pipeline/spec.js';
import type { ByteReader } from '../byteReader.js';
import type { TextDecoding } from '../encoding.js';
import { CR, LF, NO_QUOTE, type CsvCopyOptions, type CsvDialect } from './dialect.js';
import { scanField } from './scanner.js';

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** A header longer than this is not a header: fail instead of buffering the blob. */
const MAX_HEADER_BYTES = 4 * 1024 * 1024;
/** Bytes looked at to tell a lone-CR file from an LF one. */
const MAX_SNIFF_BYTES = 64 * 1024;

export interface DelimitedPrologue {
  /** Header names, or null when the file has no header row. */
  header: string[] | null;
  /** Fields in the first record (the header's, or the first data row's); 0 for an empty file. */
  fieldCount: number;
  /** Lines before the first byte handed to COPY: add to COPY's line numbers. */
  lineOffset: number;
  copyOptions: CsvCopyOptions;
}

function singleByte(name: string, value: string): number {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length !== 1) throw new ConfigError(`source.format.${name} must be a single-byte (ASCII) character, got ${JSON.stringify(value)}`);
  return bytes[0]!;
}

/** How a record parses: the dialect (LF line ends and no escape outside quotes unless said) and how field bytes decode. */
export type RecordOptions = Pick<CsvDialect, 'delimiter' | 'quote' | 'escape'> &
  Partial<Pick<CsvDialect, 'lineEnd' | 'escapeOutsideQuotes'>> & { decode?: (bytes: Buffer) => string };

/**
 * Parses one CSV record starting at `start` by COPY's rules (scanField), so the header reads
 * as COPY would read it. Returns the fields, the offset just past the record's line end and
 * the lines it spans, or undefined when the buffer ends inside the record.
 */
export function parseRecord(
  buf: Buffer,
  start: number,
  options: RecordOptions,
  atEof: boolean,
): { fields: string[]; end: number; lines: number } | undefined {
  const dialect: CsvDialect = { lineEnd: LF, escapeOutsideQuotes: false, ...options };
  const eol = dialect.lineEnd;
  const decode = options.decode ?? ((bytes: Buffer) => bytes.toString('utf8'));
  const fields: string[] = [];
  let parts: Buffer[] = [];
  let lines = 1;
  const piece = (from: number, to: number, quoted: boolean) => {
    const part = buf.subarray(from, to);
    parts.push(part);
    if (quoted) for (let at = part.indexOf(eol); at !== -1; at = part.indexOf(eol, at + 1)) lines++;
  };
  const finishField = () => {
    fields.push(decode(parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
    parts = [];
  };
  const finishRecord = (end: number) => {
    finishField();
    return { fields, end, lines };
  };
  let pos = start;
  for (;;) {
    const stop = scanField(buf, pos, dialect, atEof, piece);
    if (stop < 0) return undefined; // NEED_MORE, or UNTERMINATED (the caller tells them apart by atEof)
    if (stop >= buf.length) return atEof ? finishRecord(buf.length) : undefined;
    const byte = buf[stop]!;
    if (byte === dialect.delimiter) {
      finishField();
      pos = stop + 1;
      continue;
    }
    if (byte === eol) return finishRecord(stop + 1);
    if (byte === CR) {
      // LF line ends: a CR right before the LF (or at the very end) belongs to the line end.
      if (stop + 1 >= buf.length) return atEof ? finishRecord(buf.length) : undefined;
      if (buf[stop + 1] === LF) return finishRecord(stop + 2);
    }
    // A bare CR in an LF file, or an LF in a lone-CR file: a data byte.
    piece(stop, stop + 1, false);
    pos = stop + 1;
  }
}

/** `\r` alone ends the first line (a classic-Mac file); `\n` or `\r\n` otherwise. */
export function detectCr(buf: Buffer): boolean {
  const lf = buf.indexOf(LF);
  const cr = buf.indexOf(CR);
  return cr >= 0 && (lf < 0 || cr < lf - 1);
}

/**
 * Consumes BOM, `skipLineCount` lines and the header (when `firstRowAsHeader`), leaving the
 * reader at the first data byte. Without a header, the first record is only peeked at to
 * count its fields.
 */
export async function readDelimitedPrologue(
  reader: ByteReader,
  format: DelimitedTextFormat,
  text: Pick<TextDecoding, 'copyEncoding' | 'decode'> = { copyEncoding: 'UTF8', decode: (bytes) => bytes.toString('utf8') },
): Promise<DelimitedPrologue> {
  const delimiter = singleByte('columnDelimiter', format.columnDelimiter);
  const noQuote = format.quoteChar === '';
  const textFormat = noQuote && format.escapeChar === '\\';
  const quote = noQuote ? -1 : singleByte('quoteChar', format.quoteChar);
  const escape = format.escapeChar === '' ? -1 : singleByte('escapeChar', format.escapeChar);
  const copyOptions: CsvCopyOptions = {
    ...(textFormat && { format: 'text' as const }),
    delimiter: format.columnDelimiter,
    quote: noQuote ? NO_QUOTE : format.quoteChar,
    escape: noQuote ? NO_QUOTE : format.escapeChar,
    null: format.nullValue,
    encoding: text.copyEncoding,
  };

  const head = await reader.ensure(UTF8_BOM.length);
  if (head.subarray(0, 3).equals(UTF8_BOM)) reader.consume(3);
  await reader.ensure(MAX_SNIFF_BYTES);
  const cr = format.rowDelimiter ? format.rowDelimiter === '\r' : detectCr(reader.buffer);
  const eol = cr ? CR : LF;
  const recordOptions: RecordOptions = { delimiter, quote, escape, lineEnd: eol, escapeOutsideQuotes: textFormat, decode: text.decode };

  let lineOffset = 0;
  for (let skipped = 0; skipped < format.skipLineCount; skipped++) {
    let newline = reader.buffer.indexOf(eol);
    while (newline < 0 && (await reader.fill())) newline = reader.buffer.indexOf(eol);
    if (newline < 0) {
      reader.consume(reader.buffer.length);
      break;
    }
    reader.consume(newline + 1);
    lineOffset++;
  }

  const record = await readFirstRecord(reader, recordOptions);
  if (!record) return { header: format.firstRowAsHeader ? [] : null, fieldCount: 0, lineOffset, copyOptions };
  if (!format.firstRowAsHeader) return { header: null, fieldCount: record.fields.length, lineOffset, copyOptions };

  reader.consume(record.end);
  const header = record.fields.map((name) => name.trim());
  header.forEach((name, i) => {
    if (!name) throw new DataError(`header column ${i + 1} has no name`, { line: lineOffset + 1 });
  });
  return { header, fieldCount: header.length, lineOffset: lineOffset + record.lines, copyOptions };
}

async function readFirstRecord(
  reader: ByteReader,
  options: RecordOptions,
): Promise<{ fields: string[]; end: number; lines: number } | undefined> {
  // Parsed again only once the buffer has doubled: a record that keeps not ending costs
  // linear time up to the limit, not a re-parse per chunk.
  let parsedUpTo = 0;
  for (;;) {
    const buf = reader.buffer;
    if (buf.length === 0 && reader.ended) return undefined;
    if (reader.ended || buf.length >= 2 * parsedUpTo || buf.length > MAX_HEADER_BYTES) {
      const record = parseRecord(buf, 0, options, reader.ended);
      if (record) return record;
      parsedUpTo = buf.length;
      if (reader.ended) throw new DataError('the first record has an unterminated quoted field', { line: 1 });
      if (buf.length > MAX_HEADER_BYTES) throw new DataError(`the first record is longer than ${MAX_HEADER_BYTES} bytes: wrong columnDelimiter or quoteChar?`, { line: 1 });
    }
    await reader.fill();
  }
}

/**
 * For unquoted files loaded through COPY CSV with QUOTE 0x01 (see NO_QUOTE): fails the
 * blob if the byte occurs, instead of letting COPY misread the file. Buffer.indexOf is a
 * memchr, so this costs next to nothing.
 */
export function guardNoQuote(lineOffset: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (chunk.indexOf(0x01) >= 0) {
        callback(new DataError('the file contains a 0x01 byte, which an unquoted (quoteChar "") file cannot carry through COPY', { line: lineOffset + 1 }));
      } else callback(null, chunk);
    },
  });
}
