/**
 * Delimited text (CSV): only the prologue is parsed in Node — BOM, skipped lines and the
 * header record — because the body goes to PostgreSQL's own CSV parser untouched
 * (DESIGN decision 1: let Postgres parse).
 */
import { ConfigError, DataError } from '../errors.js';
import type { DelimitedTextFormat } from '../pipeline/spec.js';
import type { ByteReader } from './byteReader.js';

const LF = 0x0a;
const CR = 0x0d;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** A header longer than this is not a header: fail instead of buffering the blob. */
const MAX_HEADER_BYTES = 4 * 1024 * 1024;

/** COPY … (FORMAT csv) options equivalent to the spec's delimited-text settings. */
export interface CsvCopyOptions {
  delimiter: string;
  quote: string;
  escape: string;
  null: string;
  encoding: string;
}

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

/**
 * Parses one CSV record starting at `start`. Returns the fields and the offset just past
 * the record's line end, or undefined when the buffer ends inside the record.
 */
export function parseRecord(
  buf: Buffer,
  start: number,
  options: { delimiter: number; quote: number; escape: number },
  atEof: boolean,
): { fields: string[]; end: number; lines: number } | undefined {
  const fields: string[] = [];
  let field: number[] = [];
  let inQuotes = false;
  let fieldStart = true;
  let lines = 1;
  const finishField = () => {
    fields.push(Buffer.from(field).toString('utf8'));
    field = [];
    fieldStart = true;
  };
  for (let i = start; i < buf.length; i++) {
    const byte = buf[i]!;
    if (inQuotes) {
      if (byte === options.escape && options.escape !== options.quote) {
        if (i + 1 >= buf.length) return undefined; // need the escaped byte
        field.push(buf[++i]!);
      } else if (byte === options.quote) {
        if (options.escape === options.quote) {
          if (i + 1 >= buf.length && !atEof) return undefined;
          if (buf[i + 1] === options.quote) {
            field.push(byte);
            i++;
            continue;
          }
        }
        inQuotes = false;
      } else {
        if (byte === LF) lines++;
        field.push(byte);
      }
      continue;
    }
    if (byte === options.quote && fieldStart) {
      inQuotes = true;
      fieldStart = false;
    } else if (byte === options.delimiter) {
      finishField();
    } else if (byte === LF) {
      if (field.length && field[field.length - 1] === CR) field.pop();
      finishField();
      return { fields, end: i + 1, lines };
    } else {
      field.push(byte);
      fieldStart = false;
    }
  }
  if (!atEof || inQuotes) return undefined;
  if (field.length && field[field.length - 1] === CR) field.pop();
  finishField();
  return { fields, end: buf.length, lines };
}

/**
 * Consumes BOM, `skipLineCount` lines and the header (when `firstRowAsHeader`), leaving the
 * reader at the first data byte. Without a header, the first record is only peeked at to
 * count its fields.
 */
export async function readDelimitedPrologue(reader: ByteReader, format: DelimitedTextFormat): Promise<DelimitedPrologue> {
  const delimiter = singleByte('columnDelimiter', format.columnDelimiter);
  const quote = singleByte('quoteChar', format.quoteChar);
  const escape = singleByte('escapeChar', format.escapeChar);
  const copyOptions: CsvCopyOptions = {
    delimiter: format.columnDelimiter,
    quote: format.quoteChar,
    escape: format.escapeChar,
    null: format.nullValue,
    encoding: 'UTF8',
  };

  const head = await reader.ensure(UTF8_BOM.length);
  if (head.subarray(0, 3).equals(UTF8_BOM)) reader.consume(3);

  let lineOffset = 0;
  for (let skipped = 0; skipped < format.skipLineCount; skipped++) {
    let newline = reader.buffer.indexOf(LF);
    while (newline < 0 && (await reader.fill())) newline = reader.buffer.indexOf(LF);
    if (newline < 0) {
      reader.consume(reader.buffer.length);
      break;
    }
    reader.consume(newline + 1);
    lineOffset++;
  }

  const record = await readFirstRecord(reader, { delimiter, quote, escape });
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
  options: { delimiter: number; quote: number; escape: number },
): Promise<{ fields: string[]; end: number; lines: number } | undefined> {
  for (;;) {
    const buf = reader.buffer;
    if (buf.length === 0 && reader.ended) return undefined;
    const record = parseRecord(buf, 0, options, reader.ended);
    if (record) return record;
    if (reader.ended) throw new DataError('the first record has an unterminated quoted field', { line: 1 });
    if (buf.length > MAX_HEADER_BYTES) throw new DataError(`the first record is longer than ${MAX_HEADER_BYTES} bytes: wrong columnDelimiter or quoteChar?`, { line: 1 });
    await reader.fill();
  }
}
